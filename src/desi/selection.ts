import { parseTargetClasses, type TargetClass } from './targets.js';

/**
 * Which REDSHIFTS rows a run keeps. The default is the seed's cut, good quasars: SPECTYPE == 'QSO' and
 * ZWARN == 0. `--spectype` widens the classes (or `any`), `--keep-zwarn` drops the ZWARN cut and
 * `--min-deltachi2 X` adds DELTACHI2 > X (the DESI tutorials' extra cut).
 */
export interface Selection {
  /** Upper-case SPECTYPE values to keep, or 'any'. */
  spectypes: string[] | 'any';
  /** Keep only ZWARN == 0. */
  zwarnZero: boolean;
  /** Keep only DELTACHI2 > this, when set. */
  minDeltaChi2?: number;
  /** --target: keep rows whose survey's target column has one of these classes' bits (FIBERMAP). */
  targets?: TargetClass[];
  /** --fiberstatus: 'good' keeps COADD_FIBERSTATUS == 0; a number keeps (COADD_FIBERSTATUS & mask) == 0. */
  fiberstatus?: 'good' | number;
  /** --objtype TGT: keep OBJTYPE == 'TGT' (FIBERMAP). */
  objtypeTgt?: boolean;
  /** --select desi-qso-dr1 / desi-qso: DESI's quasar catalog rules (qso-rules.ts); spectypes 'any', no ZWARN cut. */
  rules?: QsoRuleSet;
}

/** The rule sets of DESI's quasar catalog (LSS qso_cat_utils): DR1 ("up to iron") and the current one. */
export type QsoRuleSet = 'desi-qso-dr1' | 'desi-qso';

/** The names --select takes. */
export const SELECTION_NAMES = ['redrock-qso', 'desi-qso-dr1', 'desi-qso', 'all'] as const;
export type SelectionName = (typeof SELECTION_NAMES)[number];

/** Afterburner files beside a tile's coadd and redrock: those a selection needs, and those --with adds. */
export type AfterburnerKind = 'qso_qn' | 'qso_mgii' | 'emline';

export const DEFAULT_SELECTION: Selection = { spectypes: ['QSO'], zwarnZero: true };

/** Builds a Selection from CLI values; throws a usage error (plain Error) on nonsense. */
export function parseSelection(opts: {
  select?: string;
  spectype?: string;
  keepZwarn?: boolean;
  minDeltachi2?: number;
  target?: string;
  fiberstatus?: string;
  objtype?: string;
}): Selection {
  if (opts.select !== undefined) return parseNamed(opts);
  let spectypes: string[] | 'any' = ['QSO'];
  if (opts.spectype !== undefined) {
    const raw = opts.spectype.trim();
    if (raw.toLowerCase() === 'any') spectypes = 'any';
    else {
      spectypes = [
        ...new Set(
          raw
            .split(',')
            .map((s) => s.trim().toUpperCase())
            .filter((s) => s.length > 0),
        ),
      ].sort();
      if (spectypes.length === 0) throw new Error(`--spectype ${JSON.stringify(opts.spectype)} names no class`);
      for (const s of spectypes) if (!/^[A-Z0-9_]{1,20}$/.test(s)) throw new Error(`--spectype: ${JSON.stringify(s)} is not a SPECTYPE value`);
    }
  }
  const sel: Selection = { spectypes, zwarnZero: !opts.keepZwarn };
  if (opts.minDeltachi2 !== undefined) {
    if (!Number.isFinite(opts.minDeltachi2)) throw new Error(`--min-deltachi2 must be a finite number`);
    sel.minDeltaChi2 = opts.minDeltachi2;
  }
  if (opts.target !== undefined) sel.targets = parseTargetClasses(opts.target);
  if (opts.fiberstatus !== undefined) {
    const f = parseFiberstatus(opts.fiberstatus);
    if (f !== 'any') sel.fiberstatus = f;
  }
  if (opts.objtype !== undefined) {
    if (opts.objtype.trim().toUpperCase() !== 'TGT') throw new Error(`--objtype: only TGT is accepted (science targets), not ${JSON.stringify(opts.objtype)}`);
    sel.objtypeTgt = true;
  }
  return sel;
}

/**
 * `--select NAME`. A name is a whole rule set, so it is refused next to the cut options (--spectype,
 * --keep-zwarn, --min-deltachi2, --target, --fiberstatus, --objtype): those build a selection of their own
 * without --select. `redrock-qso` is the default (the same selection, and text, as no option); `all` keeps
 * every row (as `--spectype any --keep-zwarn`).
 */
function parseNamed(opts: Parameters<typeof parseSelection>[0]): Selection {
  const name = opts.select!.trim().toLowerCase();
  if (!(SELECTION_NAMES as readonly string[]).includes(name))
    throw new Error(`--select: ${JSON.stringify(opts.select)} is not a selection (${SELECTION_NAMES.join(', ')})`);
  const given = [
    opts.spectype !== undefined && '--spectype',
    opts.keepZwarn === true && '--keep-zwarn',
    opts.minDeltachi2 !== undefined && '--min-deltachi2',
    opts.target !== undefined && '--target',
    opts.fiberstatus !== undefined && '--fiberstatus',
    opts.objtype !== undefined && '--objtype',
  ].filter((x): x is string => typeof x === 'string');
  if (given.length > 0) {
    throw new Error(
      `--select ${name} cannot be combined with ${given.join(', ')}: a named selection is a whole rule set; leave out --select to build a cut from those options`,
    );
  }
  if (name === 'redrock-qso') return { ...DEFAULT_SELECTION };
  if (name === 'all') return { spectypes: 'any', zwarnZero: false };
  return { spectypes: 'any', zwarnZero: false, rules: name as QsoRuleSet };
}

/** `--fiberstatus good|any|MASK` (MASK: a decimal or 0x hex integer of the bits that must be clear). */
export function parseFiberstatus(raw: string): 'good' | 'any' | number {
  const v = raw.trim().toLowerCase();
  if (v === 'good' || v === 'any') return v;
  const n = /^0x[0-9a-f]+$/.test(v) ? parseInt(v.slice(2), 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0 || n > 0xffffffff)
    throw new Error(`--fiberstatus: ${JSON.stringify(raw)} is not good, any or a mask of COADD_FIBERSTATUS bits (1..0xffffffff)`);
  return n;
}

/** The rule texts of the named rule sets (the dataset's selection text). */
export const RULE_TEXT: Record<QsoRuleSet, string> = {
  'desi-qso-dr1':
    'desi-qso-dr1: QSO_MASKBITS > 0 (LSS qso_cat_utils up to iron: QSO/BGS/ELG/WISE_VAR_QSO targets, T = 0.95, COADD_FIBERSTATUS in (0, 2^23, 2^24), z-bump veto)',
  'desi-qso':
    "desi-qso: QSO_MASKBITS > 0 (LSS qso_cat_utils after iron: QSO/BGS/ELG/WISE_VAR_QSO targets, T = 0.99, OBJTYPE == 'TGT', COADD_FIBERSTATUS in (0, 2^3))",
};

/** Whether the selection needs the coadd FIBERMAP (or the afterburners) to decide which rows it keeps. */
export function needsRefine(sel: Selection): boolean {
  return sel.rules !== undefined || sel.targets !== undefined || sel.fiberstatus !== undefined || sel.objtypeTgt === true;
}

/** The afterburner files a tile must have for the selection. */
export function afterburnersNeeded(sel: Selection): AfterburnerKind[] {
  return sel.rules !== undefined ? ['qso_qn', 'qso_mgii'] : [];
}

/** --with's afterburner names (cli/with-option.ts) as kinds, in file-kind order; an unknown one is a usage error. */
export function afterburnerKinds(names: readonly string[]): AfterburnerKind[] {
  const all: AfterburnerKind[] = ['qso_qn', 'qso_mgii', 'emline'];
  for (const n of names) if (!(all as string[]).includes(n)) throw new Error(`--with: ${JSON.stringify(n)} is not an afterburner (${all.join(', ')})`);
  return all.filter((k) => names.includes(k));
}

/** The afterburner files a tile reads: the selection's, then those --with adds, each once. */
export function afterburnersRead(sel: Selection, withKinds: readonly AfterburnerKind[] = []): AfterburnerKind[] {
  const all: AfterburnerKind[] = ['qso_qn', 'qso_mgii', 'emline'];
  const wanted = new Set([...afterburnersNeeded(sel), ...withKinds]);
  return all.filter((k) => wanted.has(k));
}

/** A canonical, human-readable text of the selection: journaled, written to the footer, compared on resume. */
export function selectionText(sel: Selection): string {
  if (sel.rules !== undefined) return RULE_TEXT[sel.rules];
  const parts: string[] = [];
  if (sel.spectypes !== 'any') {
    parts.push(sel.spectypes.length === 1 ? `SPECTYPE == '${sel.spectypes[0]}'` : `SPECTYPE in (${sel.spectypes.map((s) => `'${s}'`).join(', ')})`);
  }
  if (sel.zwarnZero) parts.push('ZWARN == 0');
  if (sel.minDeltaChi2 !== undefined) parts.push(`DELTACHI2 > ${sel.minDeltaChi2}`);
  if (sel.targets !== undefined) parts.push(`TARGET in (${sel.targets.join(', ')})`);
  if (sel.fiberstatus === 'good') parts.push('COADD_FIBERSTATUS == 0');
  else if (sel.fiberstatus !== undefined) parts.push(`(COADD_FIBERSTATUS & ${sel.fiberstatus}) == 0`);
  if (sel.objtypeTgt) parts.push("OBJTYPE == 'TGT'");
  return parts.length === 0 ? 'all rows' : parts.join(' and ');
}

/** The REDSHIFTS columns a selection needs to be evaluated. */
export function selectionColumns(sel: Selection): string[] {
  const cols = ['TARGETID'];
  if (sel.spectypes !== 'any') cols.push('SPECTYPE');
  if (sel.zwarnZero) cols.push('ZWARN');
  if (sel.minDeltaChi2 !== undefined) cols.push('DELTACHI2');
  return cols;
}
