// ESLint flat config. TypeScript (src/, workers/, bench/, test/, scripts/) is linted with type information
// (typescript-eslint strictTypeChecked + stylisticTypeChecked, through the project service and tsconfig.json);
// the plain .js files (bin/desi-qad.js, scripts/run-tests.js) are linted too, with @eslint/js recommended only
// and no type information (they are not part of the TypeScript program). Formatting is Prettier's job, so
// eslint-config-prettier comes last and turns off every rule that could fight it.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** The Node globals the plain .js files use (no `globals` package for so few names). */
const nodeGlobals = {
  process: 'readonly',
  console: 'readonly',
  URL: 'readonly',
  Buffer: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  BigInt: 'readonly',
};

export default defineConfig(
  {
    // Build output, installed packages, bench caches and results, and test data (FITS fixtures and golden files).
    ignores: ['dist/', 'node_modules/', 'bench/.cache/', 'bench/results/', 'test/fixtures/', 'test/hostile/tree/', 'test/hostile/base/'],
  },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.strictTypeChecked, tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Messages and paths are built with numbers in template literals all over (`rule ${i}`, `${n} rows`).
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // node:test's test()/describe() return promises that the runner itself awaits; awaiting them is not the idiom.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
      // `new Promise<void>((resolve) => server.close(() => resolve()))` and `(d) => chunks.push(d)` are the house idiom.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // `stream.on('error', () => {})` deliberately swallows an error that another path already reports.
      '@typescript-eslint/no-empty-function': ['error', { allow: ['arrowFunctions'] }],
      // Stylistic wants `x!` for `x as T`, which strict's no-non-null-assertion forbids: keep the (checked) `as`.
      '@typescript-eslint/non-nullable-type-assertion-style': 'off',
      // With noUncheckedIndexedAccess off (tsconfig.json says why), an index read or a regex group is typed as never
      // undefined, so this rule would flag every bounds guard on one (hostile FITS input is exactly where they
      // matter), and it cannot see state that changes across an await (util/concurrency.ts's `failed`).
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Each `!` follows a check TypeScript cannot carry into a callback or across a Map lookup (cd.nulls after
      // `if (cd.nulls)`, a find() over a fixed table); a second guard would repeat the check.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `async` on an implementation of a Promise-returning interface (ByteSource.slice, TileStore.open) is
      // deliberate even without an await: a failed check then rejects, as callers expect, instead of throwing.
      '@typescript-eslint/require-await': 'off',
      // `_name` marks a parameter an interface requires but this implementation does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // apache-arrow's abstract DataType declares no toString(), but every concrete type has one ("List<Float32>").
      '@typescript-eslint/no-base-to-string': ['error', { ignoredTypeNames: ['Error', 'RegExp', 'URL', 'URLSearchParams', 'DataType'] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: nodeGlobals },
  },
  prettier,
);
