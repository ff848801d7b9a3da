import { compileGlob, globProblem } from '../../src/credentials/path-glob';

describe('compileGlob', () => {
  it.each([
    { pattern: 'octocat/hello-world', text: 'octocat/hello-world', matches: true },
    { pattern: 'octocat/hello-world', text: 'octocat/hello-worlds', matches: false },
    { pattern: 'octocat/*', text: 'octocat/hello-world', matches: true },
    { pattern: 'octocat/*', text: 'octocat/', matches: true },
    { pattern: 'octocat/*', text: 'octocat', matches: false },
    { pattern: 'octocat/*', text: 'octocat/team/app', matches: false },
    { pattern: '*/app', text: 'octocat/app', matches: true },
    { pattern: '*/app', text: 'group/sub/app', matches: false },
    { pattern: '**/app', text: 'group/sub/app', matches: true },
    { pattern: 'release/**', text: 'release/1.2/hotfix', matches: true },
    { pattern: 'release/**', text: 'release', matches: false },
    { pattern: 'feature-*', text: 'feature-login', matches: true },
    { pattern: 'feature-*', text: 'feature-login/ui', matches: false },
    { pattern: '*-stable', text: 'v1-stable', matches: true },
    { pattern: 'a*b*c', text: 'aXXbYYc', matches: true },
    { pattern: 'a*b*c', text: 'aXXbYY', matches: false },
    { pattern: '**', text: 'any/thing/at/all', matches: true },
    { pattern: 'main', text: 'Main', matches: false },
    { pattern: 'ünï/*', text: 'ünï/cödé', matches: true },
  ])('$pattern against $text: matches is $matches', ({ pattern, text, matches }) => {
    expect(compileGlob(pattern).matches(text)).toBe(matches);
  });

  it('answers a pathological pattern and text without backtracking blow-up', () => {
    // A backtracking matcher takes exponential steps here; the simulation takes text × pattern steps at most.
    const pattern = `${'*a'.repeat(60)}b`;
    expect(compileGlob(pattern).matches('a'.repeat(200))).toBe(false);
  });
});

describe('globProblem', () => {
  it.each([
    ['an empty pattern', '', 'is empty'],
    ['?', 'octo?at', 'uses "?"'],
    ['a bracket class', 'octocat/[ab]pp', 'uses "["'],
    ['a brace set', 'release/{a,b}', 'uses "{"'],
    ['a negation', '!octocat/*', 'uses "!"'],
    ['a backslash', 'octocat\\/app', 'uses "\\\\"'],
    ['three stars', 'octocat/***', 'three or more *'],
    ['an overlong pattern', 'a'.repeat(256), 'longer than 255'],
  ])('refuses %s', (_name, pattern, problem) => {
    expect(globProblem(pattern)).toContain(problem);
  });

  it('accepts * and ** and literal text', () => {
    expect(globProblem('team-*/app-**')).toBeUndefined();
  });
});
