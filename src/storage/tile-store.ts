import type { Layout, ObjectRef, TileRef } from '../desi/tile.js';
import type { ByteSource } from '../fits/source.js';
import type { RetryCounters } from './retry.js';
import type { SourceStats } from './source.js';

/** A readable object: a ByteSource that keeps counters and must be closed. */
export interface OpenedObject extends ByteSource {
  readonly stats: SourceStats;
  /**
   * The retries made reading this object (always zero for a local file), so a tile's retries are the sum
   * over the objects it opened. They are also counted in the counters the store was given (the run's).
   */
  readonly retries: RetryCounters;
  close(): Promise<void>;
}

export interface DiscoveryFilter {
  surveys: string[];
  programs: string[];
}

export interface Discovery {
  tiles: TileRef[];
  /** Names that do not fit the layout (a stray or non-canonical folder, a misnamed file), each `place: why`. */
  problems: string[];
  /**
   * Folders (or files) under the source that exist but could not be listed or read (EACCES, ENOTDIR, EIO…),
   * each `path: cause`: tiles may hide there, so the run treats them as a hole, not as noise. Missing
   * `{survey}/{program}` folders are not listed here (not every survey has every program).
   */
  unreadable: string[];
}

/**
 * A source that cannot be discovered at all (`NO_SOURCE`: the --source root does not exist or is not a
 * folder), thrown by discover() so a mistyped path ends the run as fatal instead of as "no tiles".
 */
export class SourceError extends Error {
  override name = 'SourceError';
  readonly fatal = true;

  constructor(
    readonly code: 'NO_SOURCE',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Where tiles come from: a local healpix tree or an S3 prefix laid out like DESI's. Discovery lists tiles;
 * open() gives a ByteSource over one file so the FITS reader can ask for byte ranges.
 */
export interface TileStore {
  /** The root as the user wrote it (a path or s3://bucket/prefix), for messages and metadata. */
  readonly root: string;
  /** The layout of the tree (default 'healpix'); 'tiles' stores list units of one petal of one cumulative tile. */
  readonly layout?: Layout;
  /** Lists the tiles asked for; `signal` (the run's) aborts the listings in flight with an AbortedError. */
  discover(filter: DiscoveryFilter, signal?: AbortSignal): Promise<Discovery>;
  /** Opens one object; its reads honour `signal` (the run's): once aborted, they reject with an AbortedError. */
  open(ref: ObjectRef, signal?: AbortSignal): Promise<OpenedObject>;
  /** A name for the object in messages and in the Parquet footer (never a signed URL). */
  displayName(ref: ObjectRef): string;
}
