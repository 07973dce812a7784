import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // The engine's graph is internal: team code builds through StreamsBuilder's methods.
    files: ['**/*.ts'],
    ignores: ['processors/engine/**'],
    rules: {
      'no-restricted-syntax': ['error', {
        selector: "MemberExpression[object.property.name='topology'][property.name=/^(add[A-Z]\\w*|copartition|validate)$/]",
        message: "the builder's topology is the engine's internal graph: use StreamsBuilder's methods (copartition, internalTopic, addStateStore) or the Topology returned by build()",
      }],
      'no-restricted-imports': ['error', { patterns: [{
        group: ['**/engine/runtime/*', '**/engine/dsl/*', '**/engine/stores/*', '**/engine/internals', '**/engine/internals.ts'],
        message: 'import the engine from processors/engine/index.ts: its runtime, DSL and store modules and internals.ts (the graph behind a Topology) are internal',
      }] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly' } },
  },
);
