// gql-keys for nginx with bodies: njs hashes the request body, asks gql-keys' /authz
// (nginx dialect plus X-Body-Sha512) and either passes the request, body included, to
// the API or answers with gql-keys' own status, Gate body and headers.
// Needs njs >= 0.7 (Debian: libnginx-mod-http-js) for crypto.subtle SHA-512.

const PASSED_BACK = ['X-Verification-Code', 'Retry-After', 'X-RateLimit-Limit',
                     'X-RateLimit-Remaining', 'X-RateLimit-Reset'];

async function authorize(r) {
    const body = r.requestBuffer || Buffer.from('');
    const digest = await crypto.subtle.digest('SHA-512', body);
    const sha512 = Buffer.from(digest).toString('hex');
    let reply;
    try {
        reply = await r.subrequest('/_gql_keys_authz', { args: 'gql_keys_body_sha512=' + sha512 });
    } catch (e) {
        reply = null;
    }
    const status = reply ? reply.status : 503;
    if (status >= 200 && status < 300) {
        r.variables.gql_keys_key_id = reply.headersOut['X-Api-Key-Id'] || '';
        r.variables.gql_keys_account_id = reply.headersOut['X-Account-Id'] || '';
        r.internalRedirect('@gql_keys_api');
        return;
    }
    if (status === 400 && !reply.headersOut['X-Error-Label']) {
        // gql-keys could not even parse the check (e.g. a raw non-ASCII path).
        r.headersOut['Content-Type'] = 'application/json';
        r.return(400, '{"label":"INVALID_REQUEST","message":"Refused by the API key check."}');
        return;
    }
    if (status !== 400 && status !== 401 && status !== 403 && status !== 429) {
        r.headersOut['Content-Type'] = 'application/json';
        r.return(503, '{"label":"SERVER_ERROR","message":"The API key check is unavailable."}');
        return;
    }
    PASSED_BACK.forEach(function (name) {  // njs 0.7 has no for...of
        if (reply.headersOut[name]) {
            r.headersOut[name] = reply.headersOut[name];
        }
    });
    r.headersOut['Content-Type'] = 'application/json';
    r.return(status, reply.responseText);
}

export default { authorize };
