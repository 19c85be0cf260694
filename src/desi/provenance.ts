import type { Header } from '../fits/index.js';

/**
 * DESI provenance from primary headers: the production (SPECPROD), redrock's version (RRVER) and the
 * DEPNAMnn/DEPVERnn pairs desispec writes (desispec, numpy, astropy... versions), for the Parquet footer.
 */
export function provenanceOf(header: Header): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['SPECPROD', 'RRVER', 'SPGRP', 'SPGRPVAL', 'HPXPIXEL', 'HPXNSIDE', 'HPXNEST', 'SURVEY', 'PROGRAM']) {
    const v = header.get(key);
    if (v !== undefined && v !== null && typeof v !== 'object') out[key] = String(v);
  }
  for (const card of header.cards) {
    const m = /^DEPNAM(\d+)$/.exec(card.key);
    if (!m || typeof card.value !== 'string') continue;
    const ver = header.get(`DEPVER${m[1]}`);
    if (typeof ver === 'string') out[`DEP:${card.value.trim()}`] = ver.trim();
  }
  return out;
}
