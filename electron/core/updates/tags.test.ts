import { describe, expect, it } from 'vitest';
import { MAX_TAGS, newerTags, parseTag, policyAllows } from './tags';

describe('image tags as versions', () => {
  it('reads numbers, a v and a suffix', () => {
    expect(parseTag('34.0.2-apache')).toEqual({ tag: '34.0.2-apache', prefix: '', numbers: [34, 0, 2], suffix: 'apache' });
    expect(parseTag('v2.11.0')).toMatchObject({ prefix: 'v', numbers: [2, 11, 0], suffix: '' });
    expect(parseTag('16-alpine')).toMatchObject({ numbers: [16], suffix: 'alpine' });
    expect(parseTag('1.0.20250521')).toMatchObject({ numbers: [1, 0, 20250521] });
  });

  it('refuses what is not a version, or not a tag at all', () => {
    for (const t of ['latest', 'edge', '', '-1.2', '.1.2', '1..2', '1.2.3.4.5', '1234567890.1', '1.2 ', ' 1.2', '1.2\n', '1.2;rm -rf /', '$(id)', "1.2'", '1.2"', '１.２', '1.2-é', 'a'.repeat(129), `1.${'9'.repeat(10)}`]) {
      expect(parseTag(t), JSON.stringify(t)).toBeNull();
    }
  });

  it('patch policy: only the last numbers move; the same shape and suffix only', () => {
    const tags = ['34.0.3-apache', '34.0.10-apache', '34.1.0-apache', '35.0.0-apache', '34.0.4-fpm', '34.0.5', '34.0.6-rc1-apache', '34.0.1-apache', '34.0.2-apache', 'latest', '34.0-apache'];
    expect(newerTags('34.0.2-apache', tags, 'patch')).toEqual([
      { tag: '34.0.10-apache', level: 'patch' },
      { tag: '34.0.3-apache', level: 'patch' },
    ]);
  });

  it('minor and major policies, newest first, majors labelled', () => {
    const tags = ['10.11.12', '10.12.0', '11.0.0', '10.11.10', '9.99.99', 'v10.13.0'];
    expect(newerTags('10.11.11', tags, 'minor')).toEqual([
      { tag: '10.12.0', level: 'minor' },
      { tag: '10.11.12', level: 'patch' },
    ]);
    expect(newerTags('10.11.11', tags, 'major')[0]).toEqual({ tag: '11.0.0', level: 'major' });
    expect(policyAllows('patch', 'minor')).toBe(false);
    expect(policyAllows('major', 'major')).toBe(true);
  });

  it('two-number and one-number tags: 7.4 → 7.6 is a minor, 16 → 17 a major; a floating tag under patch gets nothing', () => {
    expect(newerTags('7.4-alpine', ['7.4.5-alpine', '7.6-alpine', '8.0-alpine'], 'patch')).toEqual([]);
    expect(newerTags('7.4-alpine', ['7.4.5-alpine', '7.6-alpine', '8.0-alpine'], 'minor')).toEqual([{ tag: '7.6-alpine', level: 'minor' }]);
    expect(newerTags('16-alpine', ['17-alpine', '16.4-alpine'], 'patch')).toEqual([]);
    expect(newerTags('16-alpine', ['17-alpine', '16.4-alpine'], 'major')).toEqual([{ tag: '17-alpine', level: 'major' }]);
  });

  it('hostile lists: non-strings, duplicates, two spellings of one version, a huge list', () => {
    const hostile: unknown[] = [null, 42, { tag: '10.11.12' }, ['10.11.13'], '10.11.12', '10.11.12', '10.11.012', '10.11.12\u0000', '10.11.99; rm -rf ~', '10.11.99$(reboot)'];
    expect(newerTags('10.11.11', hostile, 'minor')).toEqual([{ tag: '10.11.12', level: 'patch' }]);
    const many = Array.from({ length: MAX_TAGS + 5 }, (_, i) => `10.11.${String(i + 12)}`);
    const got = newerTags('10.11.11', many, 'patch');
    expect(got).toHaveLength(MAX_TAGS);
    expect(got[0]?.tag).toBe(`10.11.${String(MAX_TAGS + 11)}`);
  });

  it('nothing for a current tag that is not a version', () => {
    expect(newerTags('latest', ['1.0.0'], 'major')).toEqual([]);
  });
});
