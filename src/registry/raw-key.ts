/**
 * etcd keys are bytes. A key that is not valid UTF-8 cannot be decoded
 * without loss (every bad byte became U+FFFD, so `a\xff_node` and
 * `a\xfe_node` were one entry), so it is carried as a marked hex string
 * that no decoded key can equal, and the state skips and counts it.
 */
import { isUtf8 } from 'node:buffer';

/** Starts every undecodable key: a NUL, which no key under `{prefix}/` begins with. */
const MARK = '\u0000key-bytes:';

/** The key as a string: its UTF-8 text, or a marked hex form when it is not valid UTF-8. */
export function decodeKey(key: Buffer): string {
  return isUtf8(key) ? key.toString('utf8') : `${MARK}${key.toString('hex')}`;
}

/** Whether `key` came from {@link decodeKey} of a key that is not valid UTF-8. */
export function isUndecodableKey(key: string): boolean {
  return key.startsWith(MARK);
}

/** A printable form of an undecodable key for logs: valid parts as text, bad bytes as `\xNN`. */
export function printableKey(key: string): string {
  if (!isUndecodableKey(key)) return key;
  const bytes = Buffer.from(key.slice(MARK.length), 'hex');
  return bytes.toString('latin1').replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
