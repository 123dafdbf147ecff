/**
 * How the browser asking to log in is shown to the person who scanned: in the webhook's reply and on the
 * gateway's confirmation page. Everything here comes from the browser itself (its User-Agent and IP), so from
 * whoever opened the login page: it is reduced to names bowser knows and a valid IP before it is shown under
 * the Official Account's name, so a crafted User-Agent cannot put its own words in front of the scanner.
 */
import { isIP } from 'node:net';
import Bowser from 'bowser';

/** Browser and OS names as shown to the scanner, e.g. `Chrome 120` and `Windows 10`. */
export interface BrowserDescription {
  browser: string;
  os: string;
}

const KNOWN_BROWSERS = new Set<string>(Object.values(Bowser.BROWSER_MAP));
const KNOWN_OS = new Set<string>(Object.values(Bowser.OS_MAP));
const UNKNOWN_BROWSER = '未知浏览器';
const UNKNOWN_OS = '未知系统';
const UNKNOWN_IP = '未知';

const majorVersion = (version: string | undefined): string => /^\d{1,4}/.exec(version ?? '')?.[0] ?? '';
const withVersion = (name: string, version: string): string => (version === '' ? name : `${name} ${version}`);

/**
 * Descriptions of recently seen User-Agents. Parsing one with bowser costs about as much CPU as the rest of a
 * scan's reply, and a site's browsers send few distinct strings; bounded, so varied strings cannot grow it.
 */
const described = new Map<string, Readonly<BrowserDescription>>();
const DESCRIBED_MAX = 512;

/** Browser and OS of a User-Agent; anything bowser does not recognise is shown as unknown. */
export function describeBrowser(userAgent: string): Readonly<BrowserDescription> {
  const key = userAgent.slice(0, 1024);
  const known = described.get(key);
  if (known !== undefined) return known;
  const description = Object.freeze(parseBrowser(key));
  // The oldest entry makes room (a Map iterates in insertion order).
  if (described.size >= DESCRIBED_MAX) described.delete(described.keys().next().value as string);
  described.set(key, description);
  return description;
}

function parseBrowser(userAgent: string): BrowserDescription {
  if (userAgent.trim() === '') return { browser: UNKNOWN_BROWSER, os: UNKNOWN_OS };
  const parsed = Bowser.parse(userAgent);
  const browserName = parsed.browser.name ?? '';
  const osName = parsed.os.name ?? '';
  const osVersion = /^[\w .]{1,16}$/.test(parsed.os.versionName ?? '') ? (parsed.os.versionName ?? '') : majorVersion(parsed.os.version);
  return {
    browser: KNOWN_BROWSERS.has(browserName) ? withVersion(browserName, majorVersion(parsed.browser.version)) : UNKNOWN_BROWSER,
    os: KNOWN_OS.has(osName) ? withVersion(osName, osVersion) : UNKNOWN_OS,
  };
}

/** The browser's IP if it is one, else "unknown". */
export const displayIp = (ip: string): string => (isIP(ip) === 0 ? UNKNOWN_IP : ip);

const SHANGHAI = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

/** The last second formatted: every scan of one second shows the same time, and Intl's format is not cheap. */
let lastFormatted: { second: number; text: string } | undefined;

/** Beijing time, e.g. `2024/06/10 14:15:23 (北京时间)`. */
export function formatShanghaiTime(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (lastFormatted?.second === second) return lastFormatted.text;
  const text = `${SHANGHAI.format(new Date(second * 1000))}（北京时间）`;
  lastFormatted = { second, text };
  return text;
}
