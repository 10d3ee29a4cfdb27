// Sluice's own few lines of script: the busy state of a long operation posted without
// htmx, copy buttons, and the keyboard shortcuts of the lists.
(() => {
  'use strict';

  // A plain form post of a BusyButton: say it is busy until the next page arrives (htmx
  // requests are marked by htmx itself, and htmx prevents the browser's submit).
  document.addEventListener('submit', (e) => {
    const b = e.submitter;
    if (e.defaultPrevented || !b || !b.hasAttribute('data-busy')) return;
    b.classList.add('is-busy');
    setTimeout(() => { b.disabled = true; }); // after the form has read the button's value
  });
  // Back to a page left by a post: its buttons work again.
  window.addEventListener('pageshow', (e) => {
    if (!e.persisted) return;
    document.querySelectorAll('.is-busy[data-busy]').forEach((b) => { b.classList.remove('is-busy'); b.disabled = false; });
  });

  // A button with data-copy="#id" copies that element's text (an SSH public key).
  document.addEventListener('click', (e) => {
    const b = e.target.closest && e.target.closest('[data-copy]');
    if (!b) return;
    const from = document.querySelector(b.dataset.copy);
    if (!from || !navigator.clipboard) return;
    navigator.clipboard.writeText(from.textContent.trim()).then(() => {
      const label = b.textContent;
      b.textContent = 'Copied';
      setTimeout(() => { b.textContent = label; }, 1500);
    });
  });

  // Lists (a table marked data-shortcuts): / focuses the search, j and k move the
  // focused row, Enter opens it (the row's first link has the focus), ? lists them.
  const keys = [['/', 'Search'], ['j', 'Next row'], ['k', 'Previous row'], ['Enter', 'Open the row'], ['?', 'Show these shortcuts']];

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function rows() {
    return [...document.querySelectorAll('table[data-shortcuts] tbody tr')].filter((r) => r.querySelector('a[href]'));
  }

  function move(by) {
    const all = rows();
    if (all.length === 0) return;
    const at = all.findIndex((r) => r.classList.contains('kb-row'));
    const next = all[at < 0 ? (by > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + by))];
    all.forEach((r) => r.classList.remove('kb-row'));
    next.classList.add('kb-row');
    next.querySelector('a[href]').focus();
    next.scrollIntoView({ block: 'nearest' });
  }

  function help() {
    let d = document.getElementById('shortcuts-help');
    if (!d) {
      d = document.createElement('dialog');
      d.id = 'shortcuts-help';
      d.className = 'shortcuts-help';
      d.setAttribute('aria-labelledby', 'shortcuts-title');
      d.dataset.testid = 'shortcuts-help';
      const h = document.createElement('h2');
      h.id = 'shortcuts-title';
      h.textContent = 'Keyboard shortcuts';
      const dl = document.createElement('dl');
      for (const [k, what] of keys) {
        const dt = document.createElement('dt');
        const kbd = document.createElement('kbd');
        kbd.textContent = k;
        dt.append(kbd);
        const dd = document.createElement('dd');
        dd.textContent = what;
        dl.append(dt, dd);
      }
      const form = document.createElement('form');
      form.method = 'dialog';
      const close = document.createElement('button');
      close.className = 'btn';
      close.textContent = 'Close';
      form.append(close);
      d.append(h, dl, form);
      document.body.append(d);
    }
    if (!d.open) d.showModal();
  }

  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || typing(e.target)) return;
    if (!document.querySelector('table[data-shortcuts]') || document.querySelector('dialog[open]')) return;
    switch (e.key) {
      case '/': {
        const search = document.querySelector('main input[type=search]');
        if (search) { e.preventDefault(); search.focus(); }
        break;
      }
      case 'j': move(1); break;
      case 'k': move(-1); break;
      case '?': e.preventDefault(); help(); break;
    }
  });
})();
