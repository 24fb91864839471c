import { describe, expect, it } from 'vitest';
import { formatCeiling } from '../../functions/report/format.js';
import { escapeXml, JUNIT_GATES, junitReport, runGates } from '../../functions/report/junit-report.js';
import type { RunResult } from '../../functions/engine/types.js';
import { withBaseline } from '../fixtures/run-variants.js';
import { loadRecordedRun, SCENARIOS } from '../fixtures/simulator-runs.js';

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
      if (xml.startsWith('/>', at)) return ((at += 2), node);
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
      if (xml.startsWith(`</${node.name}>`, at)) return ((at += node.name.length + 3), node);
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

const cap = loadRecordedRun('concurrency-cap');

/** The gate outcome a run's verdict gives the `probe completed` case. */
const COMPLETED_BY_VERDICT = {
  ok: 'passed',
  regressed: 'passed',
  'below-floor': 'passed',
  inconclusive: 'failure',
  failed: 'error',
  skipped: 'failure',
} as const;

/** How a parsed test case ended: passed (no child), or the name of its one child element. */
function outcomeOf(node: XmlElement | undefined): string {
  if (!node) throw new Error('no such test case');
  return node.children[0]?.name ?? 'passed';
}

describe('junitReport', () => {
  it.each(SCENARIOS.map((scenario) => scenario.name))(
    'writes suite counts that match the test cases of the recorded %s run',
    (name) => {
      const run = loadRecordedRun(name);
      const { root, suite, cases, byName } = parseReport(run);
      const outcomes = cases.map((node) => outcomeOf(node));
      const counted = (outcome: string) => String(outcomes.filter((candidate) => candidate === outcome).length);
      const counts = { tests: String(cases.length), failures: counted('failure'), errors: counted('error') };
      expect(root.attributes).toMatchObject(counts);
      expect(suite.attributes).toMatchObject({ ...counts, skipped: counted('skipped') });
      expect(outcomeOf(byName.get(JUNIT_GATES.completed))).toBe(COMPLETED_BY_VERDICT[run.verdict]);
      expect(byName.has(JUNIT_GATES.floor)).toBe(run.settings.minCeiling !== undefined);
      for (const node of cases) {
        const body = node.children[0];
        if (body && body.name !== 'skipped') expect(body.text).toBe(body.attributes.message);
      }
    },
  );

  it.each(SCENARIOS.map((scenario) => scenario.name))(
    'leaves every property of the recorded %s run empty when the figure does not exist, alike',
    (name) => {
      const run = loadRecordedRun(name);
      const properties = Object.fromEntries(
        child(parseReport(run).suite, 'properties').children.map(
          (node) => [node.attributes.name ?? '', node.attributes.value] as const,
        ),
      );
      expect(properties).toMatchObject({
        runId: run.runId,
        targetId: run.targetId,
        url: run.url,
        verdict: run.verdict,
        ceiling: run.ceiling.value === null ? '' : formatCeiling(run.ceiling),
        dropOnset: run.dropOnset === null ? '' : String(run.dropOnset),
        limitingFactor: run.limitingFactor?.kind ?? '',
        configHash: run.configHash,
      });
    },
  );

  it('writes one ws-ceiling suite, timed and stamped from the run, with a class name per target', () => {
    const { root, suite, cases } = parseReport(cap);
    const time = ((Date.parse(cap.finishedAt) - Date.parse(cap.startedAt)) / 1000).toFixed(3);
    expect(root.attributes).toEqual({ name: 'ws-ceiling', tests: '3', failures: '0', errors: '0', time });
    expect(suite.attributes).toEqual({
      name: 'ws-ceiling',
      tests: '3',
      failures: '0',
      errors: '0',
      time,
      skipped: '1',
      timestamp: cap.startedAt.slice(0, 19),
    });
    expect(cases.map((node) => node.attributes.name)).toEqual([
      JUNIT_GATES.completed,
      JUNIT_GATES.floor,
      JUNIT_GATES.regression,
    ]);
    expect(cases.every((node) => node.attributes.classname === `ws-ceiling.${cap.targetId}`)).toBe(true);
  });

  it('skips the regression gate without a baseline', () => {
    const { byName } = parseReport(cap);
    expect(child(byName.get(JUNIT_GATES.regression)!, 'skipped').attributes.message).toBe(
      'No baseline yet: too few earlier comparable runs of this target.',
    );
  });

  it('fails the probe-completed gate of an inconclusive run, in plain words', () => {
    const idle = loadRecordedRun('idle-timeout');
    const failure = child(parseReport(idle).byName.get(JUNIT_GATES.completed)!, 'failure');
    expect(failure.attributes.message).toBe(
      `The run was inconclusive, so it does not show a ceiling: ${idle.verdictReason}`,
    );
  });

  it('makes a failed probe an error, counted as one, and fails its floor gate', () => {
    const failed = loadRecordedRun('config-error');
    const { root, suite, byName } = parseReport(failed);
    expect(root.attributes).toMatchObject({ tests: '3', failures: '1', errors: '1' });
    expect(suite.attributes).toMatchObject({ tests: '3', failures: '1', errors: '1', skipped: '1' });
    const error = child(byName.get(JUNIT_GATES.completed)!, 'error');
    expect(error.attributes).toEqual({
      message: `The probe failed: ${failed.verdictReason}`,
      type: JUNIT_GATES.completed,
    });
    expect(child(byName.get(JUNIT_GATES.floor)!, 'failure').attributes.message).toBe(
      `No ceiling was measured, so the floor of ${failed.settings.minCeiling} connections is not shown to hold.`,
    );
  });

  it('fails the floor gate of a run under its floor', () => {
    const rate = loadRecordedRun('handshake-rate-limit');
    const { byName } = parseReport(rate);
    expect(child(byName.get(JUNIT_GATES.floor)!, 'failure').attributes.message).toBe(
      `The ceiling of ${rate.ceiling.value} connections is under the floor of ${rate.settings.minCeiling}.`,
    );
  });

  it('passes the floor gate at the floor and fails a regression against the baseline', () => {
    const ceiling = cap.ceiling.value as number;
    const atFloor = parseReport({ ...cap, settings: { ...cap.settings, minCeiling: ceiling } });
    expect(atFloor.byName.get(JUNIT_GATES.floor)?.children).toEqual([]);
    const regressed = withBaseline({ ...cap, verdict: 'regressed' }, ceiling * 2, 7);
    const { suite, byName } = parseReport(regressed);
    expect(suite.attributes).toMatchObject({ tests: '3', failures: '1', errors: '0', skipped: '0' });
    expect(child(byName.get(JUNIT_GATES.regression)!, 'failure').attributes.message).toBe(
      `Ceiling ${ceiling} is 50 % under the baseline of ${ceiling * 2} (median of 7 runs); tolerance 10 %.`,
    );
  });

  it('passes the regression gate within the tolerance', () => {
    const { byName } = parseReport(withBaseline(cap, Math.round((cap.ceiling.value as number) * 1.05)));
    expect(byName.get(JUNIT_GATES.regression)?.children).toEqual([]);
  });

  it('keeps markup, quotes and line breaks in a message intact through an XML parser', () => {
    const tricky = {
      ...loadRecordedRun('unreachable'),
      targetId: 'a&b <"x">',
      verdictReason: `Refused <script> & 'quotes'\nsecond line`,
    };
    const { suite, byName } = parseReport(tricky);
    const message = child(byName.get(JUNIT_GATES.completed)!, 'error').attributes.message;
    expect(message).toBe(`The probe failed: Refused <script> & 'quotes'\nsecond line`);
    expect(byName.get(JUNIT_GATES.completed)?.attributes.classname).toBe('ws-ceiling.a&b <"x">');
    expect(child(suite, 'system-out').text).toBe(`failed: Refused <script> & 'quotes'\nsecond line`);
  });
});

describe('runGates', () => {
  it('names the floor gate only when a floor was set', () => {
    const { minCeiling: _floor, ...withoutFloor } = cap.settings;
    expect(runGates({ ...cap, settings: withoutFloor }).map((gate) => gate.name)).toEqual([
      'probe completed',
      'no regression against baseline',
    ]);
    expect(runGates(cap).map((gate) => gate.outcome.status)).toEqual(['passed', 'passed', 'skipped']);
  });

  it('errors the probe-completed gate of a failed run, and fails it for an inconclusive one', () => {
    const status = (run: RunResult) =>
      runGates(run).find((gate) => gate.name === JUNIT_GATES.completed)?.outcome.status;
    expect(status(loadRecordedRun('unreachable'))).toBe('error');
    expect(status(loadRecordedRun('probe-limited'))).toBe('failed');
  });

  it('fails the floor gate when the plan maximum held under the floor, telling to plan higher', () => {
    const held = loadRecordedRun('held');
    const maximum = held.ceiling.value as number;
    const floor = runGates({ ...held, settings: { ...held.settings, minCeiling: maximum * 2 } }).find(
      (gate) => gate.name === JUNIT_GATES.floor,
    );
    expect(floor?.outcome).toEqual({
      status: 'failed',
      message:
        `The plan's maximum of ${maximum} connections held, which is under the floor of ${maximum * 2}: ` +
        `plan stages up to at least ${maximum * 2} to check the floor.`,
    });
  });

  it('judges a held plan maximum against the baseline only when it is at or over the threshold', () => {
    const held = loadRecordedRun('held');
    const maximum = held.ceiling.value as number;
    const regression = (run: RunResult) => runGates(run).find((gate) => gate.name === JUNIT_GATES.regression)?.outcome;
    expect(regression(withBaseline(held, maximum))).toEqual({ status: 'passed' });
    expect(regression(withBaseline(held, maximum * 2))).toEqual({
      status: 'skipped',
      message:
        `The plan's maximum of ${maximum} connections held, under the regression threshold of ${maximum * 1.8}` +
        ` (baseline ${maximum * 2}): plan stages up to at least ${maximum * 1.8} to compare.`,
    });
  });

  it('skips the regression gate when a baseline exists but the run has no ceiling', () => {
    const gate = runGates(withBaseline(loadRecordedRun('idle-timeout'), 150)).find(
      (candidate) => candidate.name === JUNIT_GATES.regression,
    );
    expect(gate?.outcome).toEqual({
      status: 'skipped',
      message: 'No ceiling was measured to compare with the baseline of 150.',
    });
  });
});

describe('escapeXml', () => {
  it('escapes the five markup characters and keeps line breaks as references', () => {
    expect(escapeXml(`<a href="x">'&'</a>\r\n\t`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;&#13;&#10;&#9;',
    );
  });

  it('drops characters XML 1.0 cannot carry', () => {
    expect(escapeXml('a\u0000b\u001bc\uFFFEd\uD800e😀')).toBe('abcde😀');
  });
});
