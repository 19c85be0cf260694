/**
 * Checks that an answer with HTTP 200 is S3's. A proxy, a captive portal or a wrong endpoint can answer
 * every request with 200 and an HTML page; the AWS SDK then returns an empty output (a ListObjectsV2 with no
 * keys, a PutObject with no ETag), which would read as "no tiles" or "stored". These checks turn such answers
 * into errors, retried like a bad body (they may be a passing fault) and then reported.
 */
import { BodyLengthError } from './retry.js';

/** A 200 answer that is not S3's (no bucket name in a listing, no ETag after a write). Retried as a bad body. */
export class NotS3AnswerError extends BodyLengthError {
  override name = 'NotS3AnswerError';
}

/** Every ListObjectsV2 / ListMultipartUploads result names its bucket; an HTML page parsed as XML does not. */
export function checkListing(page: { Name?: string; Bucket?: string }, what: string): void {
  if (page.Name === undefined && page.Bucket === undefined) {
    throw new NotS3AnswerError(`${what}: the answer is not an S3 listing (no bucket name in it; a proxy or portal page?)`);
  }
}

/** PutObject, CompleteMultipartUpload and HeadObject answers carry the object's ETag; a page that is not S3's does not. */
export function checkWriteAnswer(answer: { ETag?: string }, what: string): string {
  if (answer.ETag === undefined || answer.ETag === '') {
    throw new NotS3AnswerError(`${what}: the answer has no ETag, so the object was not stored by S3 (a proxy or portal page?)`);
  }
  return answer.ETag;
}
