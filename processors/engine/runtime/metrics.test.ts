import test from 'ava';
import { escapeLabel, Metrics, prometheusText } from './metrics.ts';

test('several applications in one exposition: each family announced once, every application\'s samples under it', (t) => {
  const a = new Metrics();
  const b = new Metrics();
  a.processed('0_0', 3, 5);
  b.processed('1_2', 7, 5);
  const text = prometheusText([['order-processor', a], ['stock-processor', b]]);
  t.is(text.match(/^# TYPE orderstream_records_in_total counter$/gm)?.length, 1);
  t.regex(text, /orderstream_records_in_total\{application="order-processor",task="0_0"\} 3\norderstream_records_in_total\{application="stock-processor",task="1_2"\} 7/);
});

test('label values are escaped: backslash, quote and newline cannot break a line', (t) => {
  t.is(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const m = new Metrics();
  m.lag('0_0', 'top"ic/0', 4);
  t.regex(m.prometheus('app\nx'), /orderstream_consumer_lag\{application="app\\nx",task="0_0",partition="top\\"ic\/0"\} 4/);
});
