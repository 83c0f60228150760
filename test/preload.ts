/**
 * @module test/preload
 * Runs before every test file: no real provider key or base URL from the developer's shell may leak into a test.
 */
for (const k of Object.keys(process.env)) {
  if (/^(ANTHROPIC|OPENAI|DEEPSEEK|OPENROUTER|GROQ|MISTRAL|XAI|GEMINI|AZURE)_/.test(k) || k === 'SWITCHBOARD_CONFIG') delete process.env[k];
}
