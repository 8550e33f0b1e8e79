// Talking to the server's JSON API, so every caller gets the server's own error message (or a plain
// one when it could not be reached) as an ApiError rather than a raw response.

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Reads a failed response's `{error, message}` body, or makes one up from the status. */
export function errorFrom(status, text) {
  try {
    const body = JSON.parse(text);
    if (body && typeof body.message === 'string') return new ApiError(status, body.error || '', body.message);
  } catch {
    /* not JSON */
  }
  return new ApiError(status, '', `the server answered ${status}`);
}

/** GET/POST/DELETE returning {status, body}; 4xx/5xx become ApiError with the server's message. */
export async function api(url, { method = 'GET', json } = {}) {
  const init = { method, headers: {} };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'the server could not be reached');
  }
  const text = resp.status === 204 ? '' : await resp.text();
  if (!resp.ok) throw errorFrom(resp.status, text);
  return { status: resp.status, body: text ? JSON.parse(text) : null };
}
