// dom.js - building the page from data with DOM nodes: user text is only ever
// a text node or an attribute value, never parsed as HTML.

// h('a', {href: '#', class: 'x', onclick: fn}, 'text', child, [more])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Words of a query worth highlighting: runs of letters and digits, 2+ long.
export function queryWords(q) {
  return [...new Set((q.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) || []))];
}

// text with every occurrence of words wrapped in <mark>, as nodes.
export function highlight(text, words) {
  if (!words.length) return [document.createTextNode(text)];
  const esc = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${esc.join('|')})`, 'giu');
  const out = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    out.push(h('mark', null, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

const SAFE_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

// Rendered Markdown from the server (already escaped by md4c, no raw HTML) as
// nodes for the page. Parsed in an inert document, then checked once more:
// only known-safe URL schemes survive, and nothing active is kept.
export function markdownNodes(html) {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, 'text/html');
  for (const bad of doc.body.querySelectorAll('script,style,iframe,object,embed,form,base,link,meta')) {
    bad.remove();
  }
  for (const el of doc.body.querySelectorAll('*')) {
    for (const attr of [...el.attributes]) {
      if (attr.name.startsWith('on')) el.removeAttribute(attr.name);
    }
    for (const name of ['href', 'src']) {
      const v = el.getAttribute(name);
      if (v === null) continue;
      let ok = false;
      try {
        const u = new URL(v, location.href);
        ok = SAFE_SCHEMES.has(u.protocol) && (name === 'href' || u.origin === location.origin);
      } catch {
        ok = false;
      }
      if (!ok) el.removeAttribute(name);
    }
    if (el.tagName === 'A' && el.hasAttribute('href')) {
      el.setAttribute('rel', 'noopener noreferrer');
      el.setAttribute('target', '_blank');
    }
  }
  return [...doc.body.childNodes].map((n) => document.importNode(n, true));
}

// Debounces fn by ms.
export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}
