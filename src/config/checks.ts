/**
 * Small validators shared by the settings loaders: each takes a resolved
 * setting and returns the typed value or throws a `ConfigError` naming the
 * setting as the user wrote it and the bad value (never a secret's value).
 */
import { ConfigError, describe } from '../errors.js';
import { isPort, MAX_PORT } from '../net.js';
import { readSettingFile, type ReadFile, type Resolved, type SettingRow, type Settings } from './file.js';
import type { FlagKind, FlagSpec } from './flags.js';

/** A table row: flag `name` of `kind`, YAML key path `yaml` (dotted), `default` as typed on the command line. */
export function row(name: string, kind: FlagKind, placeholder: string, yaml: string, dflt: string, help: string): SettingRow {
  const flag: FlagSpec = { name, kind, help, ...(placeholder === '' ? {} : { placeholder }) };
  return { flag, ...(yaml === '' ? {} : { yaml: yaml.split('.') }), ...(dflt === '' ? {} : { default: dflt }) };
}

/** Deep-freezes plain objects and arrays; Buffers stay mutable (they cannot be frozen). */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
}

/** The resolved value of a setting that has a default. */
export function need(settings: Settings, name: string): Resolved {
  const r = settings.get(name);
  if (r === undefined) throw new TypeError(`setting --${name} has no value and no default`);
  return r;
}

/** The value as text. */
export function text(r: Resolved): string {
  return typeof r.value === 'string' ? r.value : String(r.value);
}

/** The value as a number. */
export function num(r: Resolved): number {
  return typeof r.value === 'number' ? r.value : Number(r.value);
}

const LISTEN = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/;

/** `host:port`, `:port` (every interface) or `[ipv6]:port`. */
export function checkListen(r: Resolved): { readonly host: string; readonly port: number } {
  const m = LISTEN.exec(text(r));
  const port = Number(m?.[3]);
  if (m === null || !isPort(port, 0)) {
    const raw = text(r);
    // "::1:9911" is ambiguous (is 9911 part of the address?): IPv6 needs brackets, as in URLs.
    const v6 = /^([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*):([0-9]{1,5})$/.exec(raw);
    const addr = v6?.[1]?.endsWith(':') === true ? `${v6[1]}:` : v6?.[1];
    const hint = v6 !== null && !raw.startsWith('[') ? `; an IPv6 address goes in brackets: [${addr}]:${v6[2]}` : raw.startsWith('[') && !raw.includes(']:') ? '; add the port after the bracket: [::1]:9911' : '';
    throw new ConfigError(r.where, `expected host:port, :port or [ipv6]:port with a port from 0 to ${MAX_PORT}, got ${describe(r.value)}${hint}`);
  }
  // ":9911" means every interface, as in Go's net.Listen.
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** A port from `min` to 65535. */
export function checkPort(r: Resolved, min: number): number {
  const port = num(r);
  if (!isPort(port, min)) throw new ConfigError(r.where, `must be a port from ${min} to ${MAX_PORT}, got ${port}`);
  return port;
}

/** A number above 0. */
export function checkPositive(r: Resolved, unit: string): number {
  const n = num(r);
  if (n <= 0) throw new ConfigError(r.where, `must be more than 0 ${unit}, got ${n} ${unit}`);
  return n;
}

/** One of `allowed`. */
export function oneOf<T extends string>(r: Resolved, allowed: readonly T[]): T {
  const value = text(r);
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new ConfigError(r.where, `must be one of ${allowed.join(', ')}, got ${describe(value)}`);
  return found;
}

/**
 * Reads a secret from the file a setting names: one trailing newline (as
 * editors and `echo` add) is dropped, and an empty secret is refused.
 * Messages name the file, never its content.
 */
export function readSecretFile(r: Resolved, readFile: ReadFile, what: string): string {
  const path = text(r);
  const value = readSettingFile(r.where, path, readFile).toString('utf8').replace(/\r?\n$/, '');
  if (value === '') throw new ConfigError(r.where, `the ${what} file ${describe(path)} is empty`);
  return value;
}
