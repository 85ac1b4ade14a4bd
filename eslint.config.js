// typescript-eslint, strict and stylistic rules with type information, over
// every TypeScript file of the repository (src and test). `npm run lint`
// fails on any warning. The few options set below say why.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.js'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Ports, counts, revisions and flags go into log lines and error messages
      // all the time; their string form is exactly what we want. Objects,
      // nullish values and `any` stay forbidden.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `(err) => reject(err)` style callbacks are the idiom of every Node API
      // we wrap; a void value returned from an arrow shorthand is never used.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // node:test's describe/it/test return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      // `.catch(() => {})` and `on('lost', () => {})` are how a deliberately
      // ignored rejection or event reads; functions and methods still need a body.
      '@typescript-eslint/no-empty-function': ['error', { allow: ['arrowFunctions'] }],
      // '' is "not set" in flag values and in Go-written documents (Go's zero
      // value), so `||` on strings is the intended test, not a nullish slip.
      '@typescript-eslint/prefer-nullish-coalescing': ['error', { ignorePrimitives: { string: true } }],
      // Express tells error handlers by their four parameters: `_next` must stay.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests index into results whose shape the test has just asserted (or is
      // about to): a wrong guess throws and fails the test, which is what an
      // extra assertion would do, at the cost of noise on every line.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Fakes implement the async interfaces of etcd clients and checkers with
      // synchronous bodies; `async` keeps a throw a rejection, as in the real thing.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
