import { globalIgnores } from 'eslint/config'
import { defineConfigWithVueTs, vueTsConfigs } from '@vue/eslint-config-typescript'
import pluginVue from 'eslint-plugin-vue'
import pluginVitest from '@vitest/eslint-plugin'
import skipFormatting from 'eslint-config-prettier/flat'

// The set-up create-vue generates for TypeScript + Vitest + Prettier.
// Prettier owns the formatting (`npm run format:check`); `skipFormatting` turns off every
// ESLint rule that would disagree with it.
export default defineConfigWithVueTs(
  {
    name: 'app/files-to-lint',
    files: ['**/*.{vue,ts,mts,tsx}'],
  },

  // src/api/generated/ is written by openapi-typescript (`npm run gen:api`), not by us.
  globalIgnores(['**/dist/**', '**/coverage/**', 'src/api/generated/**']),

  pluginVue.configs['flat/essential'],
  vueTsConfigs.recommended,

  {
    ...pluginVitest.configs.recommended,
    files: ['tests/**/*.ts'],
  },

  skipFormatting,
)
