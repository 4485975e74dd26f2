/* gridmap wall screen (`/?wall=1`): large type, the whole city, a rolling list of overdue and
 * returned incidents, the counters and the KPI table by street. It needs no input: lists refresh
 * on every event and every 30 s, and after a server restart everything is fetched again without
 * reloading the page (the stream reconnects; failed requests are simply retried next round). */
import { GM, api, byId, debounce, el, fmtTime, label, setText, typeLabel } from './gm-util.js';
import { placeName } from './gm-panels.js';

const ROLL_MS = 4000;
const REFRESH_MS = 30000;

export function startWall() {
  byId('gm-wall-panel').hidden = false;
  const level = byId('gm-kpi-level');
  level.value = 'street';
  level.dispatchEvent(new Event('change'));
  const refresh = () =>
    api('/wall/incidents.json', { quiet401: false })
      .then((answer) => {
        render(answer);
        GM.stats.wallRefreshes = (GM.stats.wallRefreshes || 0) + 1;
        GM.stats.wallIds = answer.items.map((i) => i.id);
        setText('gm-wall-updated', '更新于 ' + fmtTime(new Date().toISOString()).slice(11));
      })
      .catch(() => setText('gm-wall-updated', '连接中断，稍后自动重试'));
  GM.wallRefresh = refresh;
  refresh();
  setInterval(refresh, REFRESH_MS);
  const soon = debounce(refresh, 1000);
  const onEvent = GM.incidents.onEvent.bind(GM.incidents);
  GM.incidents.onEvent = (event) => {
    onEvent(event);
    soon();
  };
  // Keep the whole city in view; a wall has nobody to pan it back.
  setInterval(() => {
    const [w, s, e, n] = GM.tilesInfo.bounds;
    GM.map.fitBounds([[w, s], [e, n]], { padding: GM.padding(), duration: 1500 });
  }, 5 * 60000);
  setInterval(roll, ROLL_MS);
}

function render(answer) {
  setText('gm-wall-count', `超期 ${answer.overdue} 件 · 返工 ${answer.returned} 件`);
  const list = byId('gm-wall-list');
  list.textContent = '';
  for (const item of answer.items) {
    list.appendChild(
      el('li', { class: 'gm-wall-item' + (item.overdue ? ' gm-wall-overdue' : '') }, [
        el('div', { class: 'gm-wall-head' }, [
          el('span', { class: 'gm-wall-badge', text: item.overdue ? '超期' : '返工' }),
          el('span', { class: 'gm-wall-type', text: typeLabel(item.type) }),
          el('span', { class: 'gm-wall-state', text: label('states', item.status) }),
          el('span', { class: 'gm-wall-due', text: '时限 ' + fmtTime(item.due_at).slice(5) }),
        ]),
        el('div', { class: 'gm-wall-place', text: placeName(item) + (item.address ? ' · ' + item.address : '') }),
      ])
    );
  }
  if (!answer.items.length) list.appendChild(el('li', { class: 'gm-muted', text: '当前没有超期或返工事件' }));
}

/** Move the first item to the end: the list rolls so a long list is seen in turn. */
function roll() {
  const list = byId('gm-wall-list');
  if (!list || list.children.length < 6) return;
  list.appendChild(list.firstElementChild);
}
