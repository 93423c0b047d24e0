// The JSON API, called with the signed-in key as a Bearer header. The key lives in this tab's session storage
// only; it never goes into a URL, not even for downloads (fetched with the header, saved from a blob).

const KEY = 'vnmeter.key';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY),
  save: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

export function withQuery(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** The answer to `path` (with `json`, if given, as a JSON body); an ApiError carrying the API's `error` message
 * when it is not 2xx. */
export async function call(path, { params, method = 'GET', key = session.key(), json } = {}) {
  const headers = { Authorization: `Bearer ${key}` };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(withQuery(path, params), {
    method, headers, cache: 'no-store', body: json === undefined ? undefined : JSON.stringify(json),
  });
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch { /* not JSON */ }
    throw new ApiError(response.status, message);
  }
  return response;
}

export const getJson = async (path, params) => (await call(path, { params })).json();

/** Let the browser save `blob` as `filename`. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
