import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { convertCommand, convertOptions, repeatedOptionError } from './convert-command.js';
import { synthCommand, synthOptions } from './synth.js';
import { statusCommand, statusOptions } from './status-command.js';
import { planCommand, planOptions } from './plan-command.js';
import { preflightCommand, preflightOptions } from './preflight-command.js';
import { verifyCommand, verifyOptions } from './verify-command.js';
import { reportCommand, reportOptions } from './report-command.js';
import { catalogCommand, catalogOptions } from './catalog-command.js';
import { EXIT } from '../pipeline/run.js';
import { guardConsoleStreams, writeLine } from './console.js';
import { explainError, formatForConsole } from './explain.js';

/**
 * `desi-qad <command>`: parses the command line and sets the process exit status from the command's result.
 * A closed stdout or stderr (`| head`) never stops a run (console.ts); an option given twice is a usage
 * error (exit 2); an error that escapes a command is printed as `desi-qad: message` and a hint, without a
 * stack trace when it is an expected one (no credentials, no bucket, an unwritable folder), and exits 4.
 */
export async function main(argv: string[]): Promise<void> {
  guardConsoleStreams();
  let code: number = EXIT.ok;
  let repeated: Error | undefined;
  const guarded = async (run: () => Promise<number>) => {
    try {
      code = await run();
    } catch (err) {
      code = EXIT.fatal;
      reportEscaped(err);
    }
  };
  await yargs(hideBin(argv))
    .scriptName('desi-qad')
    .usage('$0 <command> [options]')
    .command('convert', 'convert DESI healpix tiles (coadd + redrock FITS) into a Parquet dataset, resumably', convertOptions, (a) =>
      guarded(() => convertCommand(a)),
    )
    .command('plan', 'split a dataset into N shards balanced by bytes (_desi-qad/plan.json), for convert --shard K/N', planOptions, (a) =>
      guarded(() => planCommand(a)),
    )
    .command('status', 'how far the dataset in --out is (also while its runs are writing it); exit 0 when every planned tile is done', statusOptions, (a) =>
      guarded(() => statusCommand(a)),
    )
    .command('verify', 'check a dataset against its journal (and --source): files, footers, schema, rows, strays; exit 0 when all holds', verifyOptions, (a) =>
      guarded(() => verifyCommand(a)),
    )
    .command('report', 'one self-contained HTML page of the dataset in --out and its runs (plots, outcomes, provenance)', reportOptions, (a) =>
      guarded(() => reportCommand(a)),
    )
    .command('catalog', "write OUT/_catalog/zcatalog.parquet: every spectrum with DR1's primary flags (ZCAT_, MAIN_, SV_PRIMARY/NSPEC)", catalogOptions, (a) =>
      guarded(() => catalogCommand(a)),
    )
    .command(
      'preflight',
      "the seed's dry-run checklist: a sample converted, killed mid-batch and resumed, verified, judged against targets",
      preflightOptions,
      (a) => guarded(() => preflightCommand(a)),
    )
    .command('synth', 'write DESI-format tiles (for tests, the demo and the bench)', synthOptions, (a) => guarded(() => synthCommand(a)))
    .demandCommand(1, 'name a command: convert, plan, status, verify, report, catalog, preflight or synth')
    .strict()
    // Every command: an option that is not an array but was given more than once (yargs then makes it an
    // array, which the code using it does not expect) is refused, naming it. Seen by a middleware that runs
    // before coerce (which turns some single values, --tiles, into arrays) and refused by the check, since
    // an error thrown by a middleware does not reach .fail().
    .middleware((a: Record<string, unknown>, y?: { getOptions(): { array?: string[]; key?: Record<string, unknown> } }) => {
      const options = y?.getOptions() ?? {};
      const arrays = new Set(options.array ?? []);
      for (const key of Object.keys(options.key ?? {})) {
        const v: unknown = a[key];
        if (Array.isArray(v) && !arrays.has(key)) {
          repeated ??= repeatedOptionError(key, v);
          return;
        }
      }
    }, true)
    .check(() => {
      if (repeated) throw repeated;
      return true;
    }, true)
    .fail((msg, err) => {
      if (err && !msg) throw err;
      writeLine('stderr', `desi-qad: ${msg ?? err?.message}`);
      writeLine('stderr', 'Run "desi-qad --help" or "desi-qad <command> --help".');
      process.exit(EXIT.usage);
    })
    .help()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .parseAsync();
  process.exitCode = code;
}

/**
 * An error no command handled: an expected one (explain.ts) as `desi-qad: message` and its hint; anything
 * else is a bug, printed with "please report" and its stack, since no run log holds it.
 */
function reportEscaped(err: unknown): void {
  const e = explainError(err);
  for (const line of formatForConsole(e).split('\n')) writeLine('stderr', line);
  if (!e.expected) {
    writeLine('stderr', 'desi-qad: this is a bug; please report it with the lines below and the command line.');
    writeLine('stderr', err instanceof Error && err.stack ? err.stack : String(err));
  }
}
