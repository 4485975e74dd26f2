/* gridmap batch geocoding page (/batch): upload a CSV, watch the job, download the results.
 *
 * Labels (job states, result statuses, match levels) come from GET /api/meta; limits (size,
 * accepted names and columns) from GET /api/batch-geocode. Text reaches the page through
 * textContent only. The tests read GridMap.stats and GridMap.batch from the running page. */

import { GM, api, byId, el, fmtInt, fmtTime, setText } from './gm-util.js';

const POLL_MS = 500;
let labels = {};
let limits = null;
let polling = null;

const label = (group, code) => ((labels[group] || {})[code]) || code;

function showError(id, text) {
  setText(id, text || '');
}

function sizeText(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${bytes} 字节`;
}

async function upload(event) {
  event.preventDefault();
  showError('gb-error', '');
  const input = byId('gb-file');
  const file = input.files && input.files[0];
  if (!file) {
    showError('gb-error', '请选择一个 CSV 文件');
    return;
  }
  if (limits && file.size > limits.max_bytes) {
    showError('gb-error', `文件超过 ${sizeText(limits.max_bytes)}，请拆分后再上传`);
    return;
  }
  const form = new FormData();
  form.append('file', file, file.name);
  byId('gb-submit').disabled = true;
  GM.stats.requests += 1;
  try {
    const response = await fetch('/api/batch-geocode', {
      method: 'POST',
      body: form,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
    }
    GM.batch.uploaded = data;
    watch(data.id);
  } catch (error) {
    GM.stats.errors.push(error.message);
    showError('gb-error', `上传失败：${error.message}`);
    byId('gb-submit').disabled = false;
  }
}

function watch(jobId) {
  clearTimeout(polling);
  byId('gb-job').hidden = false;
  byId('gb-result').hidden = true;
  showError('gb-job-error', '');
  const tick = async () => {
    let job;
    try {
      job = await api(`/api/batch-geocode/${jobId}`);
    } catch (error) {
      showError('gb-job-error', error.message);
      polling = setTimeout(tick, POLL_MS * 4);
      return;
    }
    render(job);
    if (job.status === 'queued' || job.status === 'running') {
      polling = setTimeout(tick, POLL_MS);
    } else {
      byId('gb-submit').disabled = false;
      refreshHistory();
    }
  };
  tick();
}

function render(job) {
  GM.batch.job = job;
  GM.batch.progressSeen.push(job.progress);
  setText('gb-filename', job.filename);
  const state = byId('gb-state');
  state.textContent = label('job_states', job.status);
  state.dataset.status = job.status;
  const progress = byId('gb-progress');
  progress.value = job.progress;
  setText('gb-percent', `${Math.round(job.progress * 100)}%`);
  setText('gb-message', job.message || '');
  if (job.status === 'failed') showError('gb-job-error', job.error || label('job_states', 'failed'));
  if (job.status !== 'done') return;
  const summary = job.summary || {};
  const rows = [['总行数', summary.rows], ['文件编码', summary.encoding]];
  for (const [code, count] of Object.entries(summary.statuses || {})) {
    rows.push([label('geocode_statuses', code), count]);
  }
  for (const [code, count] of Object.entries(summary.levels || {})) {
    rows.push([code === 'none' ? label('levels', code) : `匹配到${label('levels', code)}`, count]);
  }
  const body = byId('gb-counts');
  body.replaceChildren(
    ...rows.map(([name, value]) =>
      el('tr', {}, [el('th', { text: name }), el('td', { class: 'gb-num', text: typeof value === 'number' ? fmtInt(value) : value || '—' })]),
    ),
  );
  byId('gb-download-results').href = job.downloads['results.csv'];
  byId('gb-download-review').href = job.downloads['review.csv'];
  const problems = summary.problems || [];
  byId('gb-problems-box').hidden = problems.length === 0;
  byId('gb-problems').replaceChildren(
    ...problems.map((p) =>
      el('tr', { 'data-row': p.row }, [
        el('td', { class: 'gb-num', text: p.row }),
        el('td', { text: p.field || '' }),
        el('td', { text: p.message }),
      ]),
    ),
  );
  byId('gb-result').hidden = false;
}

async function refreshHistory() {
  const data = await api('/api/batch-geocode');
  limits = data.limits;
  const body = byId('gb-history');
  body.replaceChildren(
    ...data.batches.map((job) => {
      const links = Object.entries(job.downloads || {}).map(([name, href]) =>
        el('a', { href, download: '', text: name === 'results.csv' ? '结果' : '复核清单' }),
      );
      const cell = el('td', {}, links.flatMap((link, i) => (i ? [' ', link] : [link])));
      return el('tr', { 'data-id': job.id }, [
        el('td', { class: 'gb-num', text: job.id }),
        el('td', { text: job.filename }),
        el('td', { text: label('job_states', job.status) }),
        el('td', { class: 'gb-num', text: job.summary && job.summary.rows !== undefined ? fmtInt(job.summary.rows) : '—' }),
        el('td', { text: fmtTime(job.created_at) }),
        cell,
      ]);
    }),
  );
  return data;
}

async function start() {
  GM.batch = { progressSeen: [], uploaded: null, job: null };
  try {
    const meta = await api('/api/meta');
    labels = meta.labels;
    const data = await refreshHistory();
    setText(
      'gb-hint',
      `CSV 文件（${data.limits.suffixes.join('、')}），第一行为表头，需含 id（或“编号”）和 address（或“地址”）两列；` +
        `UTF-8 或 GBK 编码均可，不超过 ${sizeText(data.limits.max_bytes)}。格式有误的行会列出行号和原因，不会被丢弃。`,
    );
    const unfinished = data.batches.find((job) => job.status === 'queued' || job.status === 'running');
    if (unfinished) watch(unfinished.id);
  } catch (error) {
    showError('gb-error', error.message);
  }
  byId('gb-form').addEventListener('submit', upload);
  document.body.setAttribute('data-ready', '1');
}

start();
