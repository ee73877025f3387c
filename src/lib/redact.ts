import type { AttributeChange } from '../schemas/generated.js';

const ALWAYS = /password|pwd|secret|token|nationalid|fnr|ssno/i;

/** Values of sensitive attributes never leave the process: not in results, logs or the DLQ. */
export function redactChanges(changes: AttributeChange[] | undefined, sensitive: readonly string[]): AttributeChange[] {
  const names = new Set(sensitive.map((s) => s.toLowerCase()));
  return (changes ?? []).map((c) => (names.has(c.attribute.toLowerCase()) || ALWAYS.test(c.attribute)
    ? { attribute: c.attribute, from: c.from == null ? null : '[redacted]', to: c.to == null ? null : '[redacted]' }
    : { attribute: c.attribute, from: c.from ?? null, to: c.to ?? null }));
}

/** Removes sensitive values that might have slipped into an error text from a remote system. */
export function scrubMessage(msg: string, secrets: readonly string[] = []): string {
  let out = msg.replace(/\b\d{11}\b/g, '[redacted-11-digits]').replace(/(wstoken|token|password)=[^&\s"]+/gi, '$1=[redacted]');
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  return out.length > 2000 ? `${out.slice(0, 2000)}…` : out;
}
