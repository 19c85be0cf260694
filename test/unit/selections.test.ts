import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyQsoRules, type QsoRuleInput } from '../../src/desi/qso-rules.js';
import { afterburnersNeeded, needsRefine, parseSelection, RULE_TEXT, selectionText, DEFAULT_SELECTION } from '../../src/desi/selection.js';
import { classMask, desiTargetColumn, lssMask, parseTargetClasses, wiseVarQso } from '../../src/desi/targets.js';

test('--select redrock-qso is the default selection, with the same text (old datasets resume)', () => {
  const sel = parseSelection({ select: 'redrock-qso' });
  assert.deepEqual(sel, DEFAULT_SELECTION);
  assert.equal(selectionText(sel), "SPECTYPE == 'QSO' and ZWARN == 0");
  assert.equal(needsRefine(sel), false);
  assert.deepEqual(afterburnersNeeded(sel), []);
});

test('--select all keeps every row; the QSO rule sets name themselves and need both afterburners', () => {
  assert.equal(selectionText(parseSelection({ select: 'ALL' })), 'all rows');
  for (const name of ['desi-qso-dr1', 'desi-qso'] as const) {
    const sel = parseSelection({ select: name });
    assert.equal(selectionText(sel), RULE_TEXT[name]);
    assert.ok(selectionText(sel).startsWith(`${name}: `));
    assert.equal(needsRefine(sel), true);
    assert.deepEqual(afterburnersNeeded(sel), ['qso_qn', 'qso_mgii']);
  }
  assert.notEqual(RULE_TEXT['desi-qso-dr1'], RULE_TEXT['desi-qso']);
});

test('--select refuses unknown names and every cut option beside it', () => {
  assert.throws(() => parseSelection({ select: 'qso' }), /--select: "qso" is not a selection \(redrock-qso, desi-qso-dr1, desi-qso, all\)/);
  assert.throws(() => parseSelection({ select: 'desi-qso', spectype: 'QSO' }), /--select desi-qso cannot be combined with --spectype/);
  assert.throws(() => parseSelection({ select: 'all', keepZwarn: true, target: 'QSO' }), /cannot be combined with --keep-zwarn, --target/);
  assert.throws(() => parseSelection({ select: 'redrock-qso', fiberstatus: 'good' }), /--fiberstatus/);
  // --keep-zwarn false is yargs' default, not a given option
  assert.doesNotThrow(() => parseSelection({ select: 'desi-qso-dr1', keepZwarn: false }));
});

test('--target, --fiberstatus and --objtype compose with the cut options into one canonical text', () => {
  const sel = parseSelection({ spectype: 'qso', keepZwarn: true, target: 'lrg, QSO,qso', fiberstatus: 'good', objtype: 'tgt' });
  assert.deepEqual(sel.targets, ['QSO', 'LRG']);
  assert.equal(selectionText(sel), "SPECTYPE == 'QSO' and TARGET in (QSO, LRG) and COADD_FIBERSTATUS == 0 and OBJTYPE == 'TGT'");
  assert.equal(needsRefine(sel), true);
  assert.equal(selectionText(parseSelection({ fiberstatus: '0x9' })), "SPECTYPE == 'QSO' and ZWARN == 0 and (COADD_FIBERSTATUS & 9) == 0");
  assert.equal(selectionText(parseSelection({ fiberstatus: 'any' })), "SPECTYPE == 'QSO' and ZWARN == 0");
  assert.throws(() => parseSelection({ fiberstatus: 'bad' }), /--fiberstatus: "bad" is not good, any or a mask/);
  assert.throws(() => parseSelection({ fiberstatus: '0' }), /--fiberstatus/);
  assert.throws(() => parseSelection({ objtype: 'SKY' }), /--objtype: only TGT/);
  assert.throws(() => parseTargetClasses('QSO,STAR'), /"STAR" is not a target class/);
  assert.throws(() => parseTargetClasses(' , '), /names no class/);
});

test('target columns and bits per survey (desitarget masks; CMX included)', () => {
  assert.equal(desiTargetColumn('main'), 'DESI_TARGET');
  assert.equal(desiTargetColumn('sv3'), 'SV3_DESI_TARGET');
  assert.equal(desiTargetColumn('cmx'), 'CMX_TARGET');
  assert.equal(desiTargetColumn('special'), undefined);
  assert.equal(classMask('main', 'QSO'), 4n);
  assert.equal(classMask('sv1', 'BGS_ANY'), 1n << 60n);
  assert.equal(classMask('cmx', 'QSO'), (1n << 12n) | (1n << 14n) | (1n << 55n));
  assert.equal(lssMask('cmx', 'QSO'), (1n << 12n) | (1n << 55n));
  assert.equal(classMask('special', 'QSO'), 0n);
  assert.deepEqual(wiseVarQso('main'), { column: 'SCND_TARGET', mask: 1n << 35n });
  assert.equal(wiseVarQso('sv2'), undefined);
});

/** One row of rule input; `c` is maxC for all six lines unless a list is given. */
function row(
  o: Partial<{
    qso: 1 | 0;
    elg: 1 | 0;
    bgs: 1 | 0;
    wise: 1 | 0;
    spectype: string;
    z: number;
    fs: number;
    objtype: string;
    c: number | number[];
    newRr: 1 | 0;
    zNew: number;
    mgii: 1 | 0;
  }>,
): QsoRuleInput {
  const c = Array.isArray(o.c) ? o.c : new Array<number>(6).fill(o.c ?? 0.1);
  return {
    n: 1,
    isQso: Uint8Array.of(o.qso ?? 0),
    isElg: Uint8Array.of(o.elg ?? 0),
    isBgs: Uint8Array.of(o.bgs ?? 0),
    isWiseVar: Uint8Array.of(o.wise ?? 0),
    spectype: [o.spectype ?? 'QSO'],
    z: Float64Array.of(o.z ?? 1),
    zerr: Float64Array.of(1e-4),
    coaddFiberstatus: [o.fs ?? 0],
    objtype: [o.objtype ?? 'TGT'],
    zNew: Float64Array.of(o.zNew ?? NaN),
    zerrNew: Float64Array.of(o.newRr ? 2e-4 : NaN),
    isQsoQnNewRr: Uint8Array.of(o.newRr ?? 0),
    c: c.map((v) => Float32Array.of(v)),
    isQsoMgii: Uint8Array.of(o.mgii ?? 0),
  };
}

test('QSO_MASKBITS: each bit, the thresholds in float32, the redshift replacements', () => {
  const dr1 = (o: Parameters<typeof row>[0]) => applyQsoRules('desi-qso-dr1', row(o));
  const cur = (o: Parameters<typeof row>[0]) => applyQsoRules('desi-qso', row(o));
  assert.equal(dr1({ qso: 1 }).maskbits[0], 2);
  assert.equal(dr1({ qso: 1, spectype: 'GALAXY', mgii: 1 }).maskbits[0], 4);
  assert.equal(dr1({ qso: 1, spectype: 'GALAXY', c: 0.96 }).maskbits[0], 8);
  assert.equal(cur({ qso: 1, spectype: 'GALAXY', c: 0.96 }).maskbits[0], 0); // T = 0.99
  assert.equal(dr1({ qso: 1, spectype: 'GALAXY', c: Math.fround(0.95) }).maskbits[0], 0); // not > float32(0.95)
  const b4 = dr1({ qso: 1, spectype: 'GALAXY', c: 0.999, newRr: 1, zNew: 2.5 });
  assert.equal(b4.maskbits[0], 8 | 16);
  assert.equal(b4.z[0], 2.5);
  assert.equal(b4.zerr[0], 2e-4);
  assert.equal(dr1({ qso: 1, spectype: 'GALAXY', c: 0.9, newRr: 1, zNew: 2.5 }).z[0], 1); // no bit 4 under T: Z kept
  const b5 = dr1({ bgs: 1, c: 0.7, newRr: 1, zNew: 0.4 });
  assert.equal(b5.maskbits[0], 32);
  assert.equal(b5.z[0], 0.4); // bits 5/6 replace with QuasarNET's own flag, before the T cut
  assert.equal(dr1({ bgs: 1, elg: 1, c: 0.7 }).maskbits[0], 64);
  assert.equal(dr1({ bgs: 1, c: 0.3, mgii: 1 }).maskbits[0], 32);
  assert.equal(dr1({ elg: 1, qso: 1, c: 0.7 }).maskbits[0], 2);
  assert.equal(dr1({ wise: 1 }).maskbits[0], 128);
  assert.equal(dr1({ spectype: 'QSO' }).maskbits[0], 0); // no target: nothing (bit 7 needs WISE_VAR_QSO)
  assert.ok(Number.isNaN(dr1({ qso: 1, spectype: 'GALAXY', c: 0.999, newRr: 1, zNew: NaN }).z[0]));
});

test('quality cuts: DR1 fibre statuses and z-bump veto, the current OBJTYPE and statuses', () => {
  const dr1 = (o: Parameters<typeof row>[0]) => applyQsoRules('desi-qso-dr1', row({ qso: 1, ...o })).maskbits[0];
  const cur = (o: Parameters<typeof row>[0]) => applyQsoRules('desi-qso', row({ qso: 1, ...o })).maskbits[0];
  for (const fs of [2 ** 23, 2 ** 24]) assert.deepEqual([dr1({ fs }), cur({ fs })], [2, 0]);
  assert.deepEqual([dr1({ fs: 8 }), cur({ fs: 8 })], [0, 2]);
  assert.deepEqual([dr1({ fs: 256 }), cur({ fs: 256 })], [0, 0]);
  assert.deepEqual([dr1({ objtype: 'SKY' }), cur({ objtype: 'SKY' })], [2, 0]);
  assert.equal(dr1({ z: 3.7, c: 0.5 }), 0);
  assert.equal(cur({ z: 3.7, c: 0.5 }), 2); // no veto after iron
  assert.equal(dr1({ z: 3.65, c: 0.5 }), 2);
  assert.equal(dr1({ z: 3.9, c: 0.5 }), 2);
  assert.equal(dr1({ z: 5.3, c: [0.99, 0.5, 0.1, 0.1, 0.1, 0.1] }), 0);
  assert.equal(dr1({ z: 5.2, c: [0.96, 0.96, 0.1, 0.1, 0.1, 0.1] }), 2 | 8);
  assert.equal(dr1({ z: 3.7, c: [Math.fround(0.95), Math.fround(0.95), 0.1, 0.1, 0.1, 0.1] }), 2); // not < float32(0.95)
});
