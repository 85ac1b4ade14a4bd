import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UsageError,
  formatHelp,
  isHelpRequested,
  parseDuration,
  parseFlags,
  parseInteger,
  type FlagSpec,
} from '../../src/config/flags.js';

const SPECS: readonly FlagSpec[] = [
  { name: 'port', kind: 'int', help: 'Port.' },
  { name: 'name', kind: 'string', help: 'Name.', placeholder: 'NAME' },
  { name: 'verbose', kind: 'bool', help: 'Talk more.' },
  { name: 'hosts', kind: 'list', help: 'Hosts.' },
  { name: 'timeout', kind: 'duration', help: 'Timeout.' },
  { name: 'label', kind: 'repeat', help: 'A label k=v.', placeholder: 'K=V' },
  { name: 'secret', kind: 'string', help: '', refused: 'not accepted: use a file' },
];

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return err;
  }
  assert.fail('expected a UsageError');
}

test('--name value and --name=value', () => {
  const a = parseFlags(['--name', 'x', '--port=80'], SPECS);
  assert.equal(a.values.get('name'), 'x');
  assert.equal(a.values.get('port'), 80);
  assert.equal(a.help, false);
  assert.deepEqual(a.positionals, []);
});

test('bool flags: --x, --x=true, --x=false, and a bad value', () => {
  assert.equal(parseFlags(['--verbose'], SPECS).values.get('verbose'), true);
  assert.equal(parseFlags(['--verbose=true'], SPECS).values.get('verbose'), true);
  assert.equal(parseFlags(['--verbose=false'], SPECS).values.get('verbose'), false);
  // A bool never takes the next argument: it stays positional.
  assert.deepEqual(parseFlags(['--verbose', 'false'], SPECS).positionals, ['false']);
  const err = usageError(() => parseFlags(['--verbose=yes'], SPECS));
  assert.equal(err.message, '--verbose: expected true or false, got "yes"');
});

test('repeat flags collect every occurrence, other flags keep the last', () => {
  const a = parseFlags(['--label', 'k=v', '--label=k2=v2', '--name', 'a', '--name', 'b'], SPECS);
  assert.deepEqual(a.values.get('label'), ['k=v', 'k2=v2']);
  assert.equal(a.values.get('name'), 'b');
});

test('list flags split on commas and drop empty items', () => {
  assert.deepEqual(parseFlags(['--hosts', 'a, b,,c'], SPECS).values.get('hosts'), ['a', 'b', 'c']);
  assert.deepEqual(parseFlags(['--hosts='], SPECS).values.get('hosts'), []);
});

test('durations become milliseconds', () => {
  assert.equal(parseFlags(['--timeout', '30s'], SPECS).values.get('timeout'), 30_000);
  const cases: [string, number | undefined][] = [
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['0', 0],
    ['', undefined],
    ['30', undefined],
    ['5 s', undefined],
    ['-1s', undefined],
    ['1d', undefined],
    ['s', undefined],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  const err = usageError(() => parseFlags(['--timeout', '30'], SPECS));
  assert.match(err.message, /^--timeout: expected a duration such as 500ms, 30s, 2m or 1h, got "30"$/);
});

test('integers are strict', () => {
  assert.equal(parseInteger('42'), 42);
  assert.equal(parseInteger('-1'), -1);
  for (const bad of ['1.0', '1e3', '0x10', '', 'abc', '99999999999999999999']) {
    assert.equal(parseInteger(bad), undefined, bad);
  }
  const err = usageError(() => parseFlags(['--port', 'abc'], SPECS));
  assert.equal(err.message, '--port: expected an integer, got "abc"');
  assert.equal(err.flag, '--port');
});

test('missing value is a UsageError naming the flag', () => {
  assert.match(usageError(() => parseFlags(['--port'], SPECS)).message, /^--port: missing value: expected an integer$/);
  // A following flag is not taken as the value.
  assert.match(usageError(() => parseFlags(['--name', '--port', '1'], SPECS)).message, /^--name: missing value: expected NAME$/);
});

test('unknown and refused flags', () => {
  const unknown = usageError(() => parseFlags(['--nope', 'x'], SPECS));
  assert.equal(unknown.flag, '--nope');
  assert.match(unknown.message, /unknown flag/);
  assert.equal(usageError(() => parseFlags(['-x'], SPECS)).flag, '-x');
  const refused = usageError(() => parseFlags(['--secret=hunter2'], SPECS));
  assert.equal(refused.message, '--secret: not accepted: use a file');
  assert.doesNotMatch(refused.message, /hunter2/);
});

test('positionals, "-" and "--"', () => {
  const a = parseFlags(['one', '--port', '1', '-', '--', '--port', '-h'], SPECS);
  assert.deepEqual(a.positionals, ['one', '-', '--port', '-h']);
  assert.equal(a.values.get('port'), 1);
  assert.equal(a.help, false);
});

test('-h and --help, which win over other problems', () => {
  assert.equal(parseFlags(['-h'], SPECS).help, true);
  assert.equal(parseFlags(['--port', '1', '--help'], SPECS).help, true);
  assert.equal(parseFlags(['--nope', '--help'], SPECS).help, true);
  assert.equal(isHelpRequested(['--', '-h']), false);
  assert.throws(() => parseFlags(['--nope', '--', '--help'], SPECS), UsageError);
});

test('parsing does not depend on or change process state', () => {
  const argv = ['--port', '1'];
  parseFlags(argv, SPECS);
  assert.deepEqual(argv, ['--port', '1']);
});

test('formatHelp aligns flags and hides refused ones', () => {
  const help = formatHelp('etcd-http-sd demo', 'Does a demo.', SPECS, '<service>');
  const lines = help.split('\n');
  assert.equal(lines[0], 'Usage: etcd-http-sd demo [flags] <service>');
  assert.equal(lines[2], 'Does a demo.');
  assert.equal(lines[4], 'Flags:');
  assert.deepEqual(lines.slice(5), [
    '  --port N            Port.',
    '  --name NAME         Name.',
    '  --verbose           Talk more.',
    '  --hosts A,B,...     Hosts.',
    '  --timeout DURATION  Timeout.',
    '  --label K=V         A label k=v. (repeatable)',
    '  -h, --help          Show this help and exit.',
    '',
  ]);
  assert.doesNotMatch(help, /secret/);
});

test('formatHelp puts the help of a long flag on its own line', () => {
  const long: FlagSpec = { name: 'a-very-long-flag-name-indeed', kind: 'string', help: 'Long.', placeholder: 'SOMETHING' };
  const help = formatHelp('x', 'S.', [long]);
  assert.match(help, /\n {2}--a-very-long-flag-name-indeed SOMETHING\n {36}Long\.\n/);
});
