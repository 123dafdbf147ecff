/**
 * The account's own words for the scanner's replies (REPLY_TEXTS_FILE): one `{ zh, en }` template per reply
 * kind, with named placeholders. Checked once at start-up, so a typo stops the process naming the entry
 * instead of reaching a user as a literal `{browsr}`; rendering is then a plain substitution that cannot fail.
 * Kinds left out keep the built-in text (`scan-reply.ts`).
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../libs/config/index.js';

/** The reply kinds, in the order the README lists them. */
export const REPLY_KINDS = ['loggedIn', 'confirmRequest', 'alreadyScanned', 'unknownCode', 'refused'] as const;
export type ReplyKind = (typeof REPLY_KINDS)[number];

export type Placeholder = 'browser' | 'os' | 'ip' | 'time' | 'count' | 'link';

/**
 * What each kind may say and what it must say. `confirmRequest` must carry `{link}`: without it the scanner
 * has no way to confirm. `alreadyScanned` gets no `{link}`: when the scan still waits for confirmation, the
 * link follows the text on its own line, and otherwise there is none to show.
 */
export const REPLY_PLACEHOLDERS: Readonly<Record<ReplyKind, { allowed: readonly Placeholder[]; required: readonly Placeholder[] }>> = {
  loggedIn: { allowed: ['browser', 'os', 'ip', 'time', 'count'], required: [] },
  confirmRequest: { allowed: ['browser', 'os', 'ip', 'time', 'link'], required: ['link'] },
  alreadyScanned: { allowed: [], required: [] },
  unknownCode: { allowed: [], required: [] },
  refused: { allowed: [], required: [] },
};

/** One kind's text: the Chinese and the English line(s), sent together (WeChat does not tell us the language). */
export interface ReplyTemplate {
  zh: string;
  en: string;
}

/** The kinds the account wrote; a kind not here is answered with the built-in text. */
export type ReplyTexts = Partial<Record<ReplyKind, ReplyTemplate>>;

/** WeChat cuts a text reply at 2048 bytes; a template this long leaves no room for the values. */
const MAX_TEMPLATE_CHARS = 600;
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const SOURCE = 'REPLY_TEXTS_FILE';

/** Every problem of one parsed file, each naming its entry; empty when the file is good. */
function problemsOf(parsed: unknown): string[] {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return [`${SOURCE}: expected a JSON object with entries ${REPLY_KINDS.join(', ')}`];
  }
  const problems: string[] = [];
  for (const [kind, entry] of Object.entries(parsed)) {
    if (!(REPLY_KINDS as readonly string[]).includes(kind)) {
      problems.push(`${SOURCE}: unknown entry "${kind}" (expected one of ${REPLY_KINDS.join(', ')})`);
      continue;
    }
    problems.push(...entryProblems(kind as ReplyKind, entry));
  }
  return problems;
}

function entryProblems(kind: ReplyKind, entry: unknown): string[] {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return [`${SOURCE}: entry "${kind}" must be an object { "zh": "…", "en": "…" }`];
  }
  const record = entry as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(record)) {
    if (key !== 'zh' && key !== 'en') problems.push(`${SOURCE}: entry "${kind}" has unknown field "${key}" (expected zh and en)`);
  }
  const { allowed, required } = REPLY_PLACEHOLDERS[kind];
  const used = new Set<string>();
  for (const language of ['zh', 'en'] as const) {
    const text = record[language];
    if (typeof text !== 'string') {
      problems.push(`${SOURCE}: entry "${kind}" needs "${language}" as a string`);
      continue;
    }
    if (text.length > MAX_TEMPLATE_CHARS)
      problems.push(`${SOURCE}: entry "${kind}.${language}" is longer than ${MAX_TEMPLATE_CHARS} characters`);
    for (const [, name = ''] of text.matchAll(PLACEHOLDER)) {
      used.add(name);
      if (!(allowed as readonly string[]).includes(name)) {
        const choice = allowed.length > 0 ? `allowed here: ${allowed.map((p) => `{${p}}`).join(' ')}` : 'this entry takes no placeholders';
        problems.push(`${SOURCE}: entry "${kind}.${language}" has unknown placeholder {${name}} (${choice})`);
      }
    }
  }
  if (typeof record['zh'] === 'string' && typeof record['en'] === 'string' && record['zh'].trim() === '' && record['en'].trim() === '') {
    problems.push(`${SOURCE}: entry "${kind}" is empty in both zh and en`);
  }
  for (const name of required) {
    if (!used.has(name)) problems.push(`${SOURCE}: entry "${kind}" must contain {${name}} in zh or en (the scanner needs it)`);
  }
  return problems;
}

/** The reply texts in `json`; throws one ConfigError naming every bad entry. */
export function parseReplyTexts(json: string): ReplyTexts {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new ConfigError([`${SOURCE}: not valid JSON (${(error as Error).message})`]);
  }
  const problems = problemsOf(parsed);
  if (problems.length > 0) throw new ConfigError(problems);
  const texts: ReplyTexts = {};
  for (const kind of REPLY_KINDS) {
    const entry = (parsed as Record<string, ReplyTemplate | undefined>)[kind];
    if (entry !== undefined) texts[kind] = { zh: entry.zh, en: entry.en };
  }
  return texts;
}

/** Read and check the file at `path` (start-up only); a file that cannot be read is a ConfigError too. */
export function loadReplyTexts(path: string): ReplyTexts {
  let json: string;
  try {
    json = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      `${SOURCE}: cannot read ${JSON.stringify(path)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    ]);
  }
  return parseReplyTexts(json);
}

/**
 * A checked template with its values: each placeholder replaced (a value never re-read as a placeholder), the
 * two languages on separate lines, an empty one left out.
 */
export function renderReply(template: ReplyTemplate, values: Partial<Record<Placeholder, string>>): string {
  const fill = (text: string): string => text.replace(PLACEHOLDER, (whole, name: string) => values[name as Placeholder] ?? whole);
  return [fill(template.zh), fill(template.en)].filter((line) => line.trim() !== '').join('\n');
}
