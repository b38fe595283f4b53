// Lint rules for the whole repository. Type-aware rules are left out on purpose:
// `tsc --noEmit` already runs in CI, and untyped linting keeps `npm run lint` fast.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'deploy/cdk.out/', 'test/.cache/', '.runnerctl/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/test/**'], message: 'Production code never imports from test/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
