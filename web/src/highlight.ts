import type { Directive } from 'vue'
import hljs from 'highlight.js/lib/core'
import bash from 'highlight.js/lib/languages/bash'
import c from 'highlight.js/lib/languages/c'
import cpp from 'highlight.js/lib/languages/cpp'
import go from 'highlight.js/lib/languages/go'
import java from 'highlight.js/lib/languages/java'
import javascript from 'highlight.js/lib/languages/javascript'
import json from 'highlight.js/lib/languages/json'
import plaintext from 'highlight.js/lib/languages/plaintext'
import python from 'highlight.js/lib/languages/python'
import rust from 'highlight.js/lib/languages/rust'
import sql from 'highlight.js/lib/languages/sql'
import typescript from 'highlight.js/lib/languages/typescript'

/** The languages a post can be written in: API value → label. */
export const LANGUAGES = {
  python: 'Python',
  javascript: 'JavaScript',
  typescript: 'TypeScript',
  go: 'Go',
  rust: 'Rust',
  java: 'Java',
  c: 'C',
  cpp: 'C++',
  bash: 'Bash',
  sql: 'SQL',
  json: 'JSON',
  plaintext: 'Plain text',
} as const

export type Language = keyof typeof LANGUAGES

const grammars = { python, javascript, typescript, go, rust, java, c, cpp, bash, sql, json, plaintext }
for (const [name, grammar] of Object.entries(grammars)) hljs.registerLanguage(name, grammar)

export interface Snippet {
  code: string
  language: string | null
}

function highlight(el: HTMLElement, { code, language }: Snippet): void {
  // Code goes in as text; highlight.js then escapes it while adding its spans.
  el.textContent = code
  delete el.dataset.highlighted
  el.className = `hljs language-${language && hljs.getLanguage(language) ? language : 'plaintext'}`
  hljs.highlightElement(el)
}

/** `<code v-highlight="{ code, language }">`: shows code as highlighted text. */
export const vHighlight: Directive<HTMLElement, Snippet> = {
  mounted: (el, { value }) => highlight(el, value),
  updated: (el, { value, oldValue }) => {
    if (value.code !== oldValue?.code || value.language !== oldValue?.language) highlight(el, value)
  },
}
