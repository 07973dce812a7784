/* global document, Node */
/**
 * A tiny element builder. Text always goes in as text nodes (never innerHTML), so product names
 * and chat messages from other users cannot inject markup.
 */

/**
 * h('button', { class: 'x', onclick: fn, dataset: { testid: 'pay' } }, 'Pay')
 * Attribute values of null, undefined or false are left out; true sets an empty attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    else if (key === 'value' || key === 'checked') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

/** Shows an error message in the `role="alert"` slot of a form (empty text hides it). */
export function showError(slot, error) {
  const text = error === undefined || error === null ? '' : typeof error === 'string' ? error : error.text ?? error.message ?? String(error);
  slot.textContent = text;
  slot.hidden = text === '';
}

/** Runs an async form action with the submit button disabled and the error shown beside the form. */
export async function busy(form, slot, action) {
  const buttons = [...form.querySelectorAll('button')];
  buttons.forEach((b) => { b.disabled = true; });
  showError(slot, '');
  try {
    return await action();
  } catch (e) {
    showError(slot, e);
    return undefined;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}
