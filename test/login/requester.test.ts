/**
 * How the browser asking to log in is described to the scanner (`libs/login/requester.ts`). Descriptions are
 * remembered per User-Agent (parsing costs as much as the rest of a reply): a remembered one must be the one
 * a fresh parse gives, whatever was seen in between, and crafted strings stay unknown.
 */
import { describe, expect, it } from 'vitest';
import { describeBrowser, formatShanghaiTime } from '../../libs/login/index.js';
import { CHROME_ON_MAC, CHROME_ON_WINDOWS } from '../support/fixtures.js';

describe('describeBrowser', () => {
  it('gives each User-Agent its own description, again and again, after many others were seen', () => {
    const windows = { browser: 'Chrome 120', os: 'Windows 10' };
    expect(describeBrowser(CHROME_ON_WINDOWS)).toEqual(windows);
    expect(describeBrowser(CHROME_ON_MAC)).toMatchObject({ browser: 'Chrome 126', os: expect.stringMatching(/^macOS/) });
    for (let i = 0; i < 2_000; i++) describeBrowser(`Mozilla/5.0 (X11; Linux x86_64) Firefox/${i}.0`);
    expect(describeBrowser('Mozilla/5.0 (X11; Linux x86_64) Firefox/1999.0')).toEqual({ browser: 'Firefox 1999', os: 'Linux' });
    expect(describeBrowser(CHROME_ON_WINDOWS)).toEqual(windows);
    expect(describeBrowser(CHROME_ON_WINDOWS)).toEqual(windows);
  });

  it('shows what bowser does not know as unknown, remembered or not', () => {
    for (let i = 0; i < 2; i++) {
      expect(describeBrowser('请立即转账 <b>urgent</b>')).toEqual({ browser: '未知浏览器', os: '未知系统' });
      expect(describeBrowser('   ')).toEqual({ browser: '未知浏览器', os: '未知系统' });
    }
  });

  it('formats Beijing time to the second, whichever times came before', () => {
    const at = Date.UTC(2024, 5, 10, 6, 15, 23, 900);
    expect(formatShanghaiTime(at)).toBe('2024/06/10 14:15:23（北京时间）');
    expect(formatShanghaiTime(at - 800)).toBe('2024/06/10 14:15:23（北京时间）');
    expect(formatShanghaiTime(at + 100)).toBe('2024/06/10 14:15:24（北京时间）');
    expect(formatShanghaiTime(at - 900)).toBe('2024/06/10 14:15:23（北京时间）');
    expect(formatShanghaiTime(at - 901)).toBe('2024/06/10 14:15:22（北京时间）');
  });
});
