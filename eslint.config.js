import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'schemas/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', AbortController: 'readonly', fetch: 'readonly', Response: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // The core never writes to the terminal: only commands and the UI layer may print.
    files: ['src/**/*.ts'],
    ignores: ['src/commands/**', 'src/ui/**', 'src/cli/**'],
    rules: {
      'no-console': 'error',
      'no-restricted-imports': ['error', { paths: [
        { name: '@oclif/core', message: 'The core must not depend on oclif; keep it in src/commands.' },
        { name: '@inquirer/prompts', message: 'Only src/ui/ talks to the terminal.' },
      ] }],
    },
  },
);
