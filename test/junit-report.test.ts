import { describe, expect, it } from 'vitest';
import { escapeXml, JUNIT_GATES, junitReport, runGates } from '../functions/report/junit-report.js';
import type { RunResult } from '../functions/engine/types.js';
import { recordedRun, withBaseline } from './support/report-fixtures.js';

/** An element of a parsed XML document. */
interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/**
 * A small strict XML parser for what a JUnit report holds (declaration,
 * elements, attributes, text, entity and character references). It throws on
 * anything not well-formed: a stray `<` or `&`, unquoted or repeated
 * attributes, mismatched or unclosed tags, more than one root.
 */
function parseXml(xml: string): XmlElement {
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed at ${at}: ${why} near ${JSON.stringify(xml.slice(at, at + 30))}`);
  };
  const decode = (raw: string): string => {
    if (/[<]/.test(raw)) fail('raw < in text or attribute');
    return raw.replace(/&([^;]*);?/g, (whole, name: string) => {
      if (!whole.endsWith(';')) fail('unterminated reference');
      const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
      if (named[name] !== undefined) return named[name];
      const code = /^#x([0-9a-f]+)$/i.exec(name)?.[1] ?? /^#(\d+)$/.exec(name)?.[1];
      if (code === undefined) return fail(`unknown reference &${name};`);
      return String.fromCodePoint(name.startsWith('#x') ? parseInt(code, 16) : Number(code));
    });
  };
  const skipSpace = () => {
    while (/\s/.test(xml[at] ?? '')) at += 1;
  };
  const element = (): XmlElement => {
    const open = /^<([A-Za-z_][\w.-]*)/.exec(xml.slice(at));
    if (!open?.[1]) return fail('expected an element');
    const node: XmlElement = { name: open[1], attributes: {}, children: [], text: '' };
    at += open[0].length;
    for (;;) {
      skipSpace();
      if (xml.startsWith('/>', at)) return (at += 2), node;
      if (xml[at] === '>') break;
      const attribute = /^([A-Za-z_][\w.-]*)\s*=\s*"([^"]*)"/.exec(xml.slice(at));
      if (!attribute?.[1] || attribute[2] === undefined) return fail('bad attribute');
      if (attribute[1] in node.attributes) fail(`repeated attribute ${attribute[1]}`);
      node.attributes[attribute[1]] = decode(attribute[2]);
      at += attribute[0].length;
    }
    at += 1;
    for (;;) {
      const next = xml.indexOf('<', at);
      if (next < 0) return fail(`unclosed <${node.name}>`);
      node.text += decode(xml.slice(at, next));
      at = next;
      if (xml.startsWith(`</${node.name}>`, at)) return (at += node.name.length + 3), node;
      if (xml.startsWith('</', at)) return fail(`mismatched close of <${node.name}>`);
      node.children.push(element());
    }
  };
  const declaration = /^<\?xml version="1\.0" encoding="UTF-8"\?>/.exec(xml);
  if (!declaration) fail('missing XML declaration');
  at = declaration?.[0].length ?? 0;
  skipSpace();
  const root = element();
  skipSpace();
  if (at !== xml.length) fail('content after the root element');
  return root;
}

function child(node: XmlElement, name: string): XmlElement {
  const found = node.children.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`<${node.name}> has no <${name}>`);
  return found;
}

/** The parsed report's single suite and its test cases by name. */
function parseReport(run: RunResult) {
  const root = parseXml(junitReport(run));
  expect(root.name).toBe('testsuites');
  expect(root.children.filter((node) => node.name === 'testsuite')).toHaveLength(1);
  const suite = child(root, 'testsuite');
  const cases = suite.children.filter((node) => node.name === 'testcase');
  return { root, suite, cases, byName: new Map(cases.map((node) => [node.attributes.name, node])) };
}

const cap = recordedRun('concurrency-cap');

describe('junitReport', () => {
  it('writes one ws-ceiling suite whose counts match its passed test cases for a run that completed', () => {
    const { root, suite, cases } = parseReport(cap);
    expect(suite.attributes).toMatchObject({ name: 'ws-ceiling', tests: '2', failures: '0', errors: '0', skipped: '1', time: '10.095' });
    expect(root.attributes).toEqual({ name: 'ws-ceiling', tests: '2', failures: '0', errors: '0', time: '10.095' });
    expect(suite.attributes.timestamp).toBe('2026-11-22T02:21:42');
    expect(cases.map((node) => node.attributes.name)).toEqual([JUNIT_GATES.completed, JUNIT_GATES.regression]);
    expect(cases.every((node) => node.attributes.classname === 'ws-ceiling.demo')).toBe(true);
    expect(cases[0]?.children).toEqual([]);
    const properties = Object.fromEntries(child(suite, 'properties').children.map((node) => [node.attributes.name, node.attributes.value]));
    expect(properties).toMatchObject({ runId: cap.runId, targetId: 'demo', verdict: 'ok', ceiling: '150', dropOnset: '150', limitingFactor: 'concurrency-cap' });
  });

  it('skips the regression gate without a baseline and leaves out the floor gate without a floor', () => {
    const { byName } = parseReport(cap);
    expect(byName.has(JUNIT_GATES.floor)).toBe(false);
    expect(child(byName.get(JUNIT_GATES.regression)!, 'skipped').attributes.message).toBe(
      'No baseline yet: too few earlier comparable runs of this target.',
    );
  });

  it('fails the probe-completed gate of an inconclusive run, in plain words', () => {
    const { suite, byName } = parseReport(recordedRun('idle-timeout'));
    expect(suite.attributes).toMatchObject({ failures: '1', skipped: '1' });
    const failure = child(byName.get(JUNIT_GATES.completed)!, 'failure');
    expect(failure.attributes.message).toMatch(/^The run was inconclusive, so it does not show a ceiling: Idle timeout of 1\.0 s: 10 connections/);
    expect(failure.text).toBe(failure.attributes.message);
  });

  it('fails both the completed and floor gates of a failed run with a floor', () => {
    const { suite, byName } = parseReport(recordedRun('config-error'));
    expect(suite.attributes).toMatchObject({ tests: '3', failures: '2', skipped: '1' });
    expect(child(byName.get(JUNIT_GATES.completed)!, 'failure').attributes.message).toMatch(
      /^The probe failed: The target refused the connection as misconfigured \(HTTP 401\)/,
    );
    expect(child(byName.get(JUNIT_GATES.floor)!, 'failure').attributes.message).toBe(
      'No ceiling was measured, so the floor of 15 connections is not shown to hold.',
    );
  });

  it('passes the floor gate at the floor and fails it under, and fails a regression against the baseline', () => {
    const atFloor = parseReport({ ...cap, settings: { ...cap.settings, minCeiling: 150 } });
    expect(atFloor.byName.get(JUNIT_GATES.floor)?.children).toEqual([]);
    const regressed = withBaseline({ ...cap, verdict: 'below-floor', settings: { ...cap.settings, minCeiling: 151 } }, 200, 7);
    const { suite, byName } = parseReport(regressed);
    expect(suite.attributes).toMatchObject({ tests: '3', failures: '2', skipped: '0' });
    expect(child(byName.get(JUNIT_GATES.floor)!, 'failure').attributes.message).toBe('The ceiling of 150 connections is under the floor of 151.');
    expect(child(byName.get(JUNIT_GATES.regression)!, 'failure').attributes.message).toBe(
      'Ceiling 150 is 25 % under the baseline of 200 (median of 7 runs); tolerance 10 %.',
    );
  });

  it('passes the regression gate within the tolerance', () => {
    const { byName } = parseReport(withBaseline(cap, 160));
    expect(byName.get(JUNIT_GATES.regression)?.children).toEqual([]);
  });

  it('keeps markup, quotes and line breaks in a message intact through an XML parser', () => {
    const tricky = { ...recordedRun('unreachable'), targetId: 'a&b <"x">', verdictReason: `Refused <script> & 'quotes'\nsecond line` };
    const { suite, byName } = parseReport(tricky);
    const message = child(byName.get(JUNIT_GATES.completed)!, 'failure').attributes.message;
    expect(message).toBe(`The probe failed: Refused <script> & 'quotes'\nsecond line`);
    expect(byName.get(JUNIT_GATES.completed)?.attributes.classname).toBe('ws-ceiling.a&b <"x">');
    expect(child(suite, 'system-out').text).toBe(`failed: Refused <script> & 'quotes'\nsecond line`);
  });
});

describe('runGates', () => {
  it('names the floor gate only when a floor was set', () => {
    expect(runGates(cap).map((gate) => gate.name)).toEqual(['probe completed', 'no regression against baseline']);
    expect(runGates({ ...cap, settings: { ...cap.settings, minCeiling: 10 } }).map((gate) => gate.outcome.status)).toEqual([
      'passed',
      'passed',
      'skipped',
    ]);
  });

  it('fails the floor gate when the plan maximum held under the floor, telling to plan higher', () => {
    const held = { ...cap, ceiling: { value: 100, reached: false }, settings: { ...cap.settings, minCeiling: 200 } };
    const floor = runGates(held).find((gate) => gate.name === JUNIT_GATES.floor);
    expect(floor?.outcome).toEqual({
      status: 'failed',
      message: "The plan's maximum of 100 connections held, which is under the floor of 200: plan stages up to at least 200 to check the floor.",
    });
  });

  it('judges a held plan maximum against the baseline only when it is at or over the threshold', () => {
    const held = (value: number) => withBaseline({ ...cap, ceiling: { value, reached: false } }, 200);
    const regression = (run: RunResult) => runGates(run).find((gate) => gate.name === JUNIT_GATES.regression)?.outcome;
    expect(regression(held(180))).toEqual({ status: 'passed' });
    expect(regression(held(100))).toEqual({
      status: 'skipped',
      message: "The plan's maximum of 100 connections held, under the regression threshold of 180 (baseline 200): plan stages up to at least 180 to compare.",
    });
  });

  it('skips the regression gate when a baseline exists but the run has no ceiling', () => {
    const gate = runGates(withBaseline(recordedRun('idle-timeout'), 150)).find((candidate) => candidate.name === JUNIT_GATES.regression);
    expect(gate?.outcome).toEqual({ status: 'skipped', message: 'No ceiling was measured to compare with the baseline of 150.' });
  });
});

describe('escapeXml', () => {
  it('escapes the five markup characters and keeps line breaks as references', () => {
    expect(escapeXml(`<a href="x">'&'</a>\r\n\t`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;&#13;&#10;&#9;');
  });

  it('drops characters XML 1.0 cannot carry', () => {
    expect(escapeXml('a\u0000b\u001bc\uFFFEd\uD800e😀')).toBe('abcde😀');
  });
});
