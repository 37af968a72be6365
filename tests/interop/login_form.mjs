// The user's side of Tessera's login page, without a browser: open the authorization URL,
// keep its cookies, post the form with the page's hidden fields, return the redirect.
export async function signIn(authorizationUrl, issuer, email, password) {
  let res = await fetch(authorizationUrl, { redirect: 'manual' });
  if (res.status !== 200) throw new Error(`login page: HTTP ${res.status}`);
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const html = await res.text();
  const field = (name) => {
    const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
    if (!m) throw new Error(`no ${name} field on the login page`);
    return m[1].replaceAll('&quot;', '"').replaceAll('&#x27;', "'").replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>').replaceAll('&amp;', '&');
  };
  res = await fetch(new URL('/login', issuer), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ email, password, csrf: field('csrf'), request: field('request') }),
  });
  const location = res.headers.get('location');
  if (res.status !== 303 || !location) throw new Error(`login post: HTTP ${res.status}`);
  return { location, request: field('request') };
}
