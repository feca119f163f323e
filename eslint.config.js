// ESLint (flat config): neostandard, the Standard style with typescript-eslint, over every package.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', '.tap/**', 'test-output/**']
  }),
  {
    rules: {
      // TypeBox's idiom: `const X = Type.Object(…)` and `type X = Static<typeof X>` share a name.
      '@typescript-eslint/no-redeclare': 'off',
      // `void reply.header(…)` marks a deliberately unawaited thenable (Fastify's reply).
      'no-void': ['error', { allowAsStatement: true }],
      // `let x` assigned later but read first in a closure (a teardown, a loop in another task) is not a const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }]
    }
  }
]
