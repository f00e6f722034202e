/**
 * The CMA client of the page: the same calls and headers as the official DatoCMS client
 * (`Authorization: Bearer`, `X-Api-Version: 3`, JSON:API bodies), on this origin.
 * 429 answers are retried after `X-RateLimit-Reset` seconds; jobs (202) are polled.
 */
/**
 * The server answers `default_field_metadata` field-keyed (`{alt: {en: …}, focal_point}`) or
 * locale-keyed (`{en: {alt, focal_point}}`), as configured (spec §2.3); it takes both on write,
 * and this page always writes field-keyed. Its keys are the project's locales, so the page needs
 * no other source for them.
 */
export function metadataOf(upload) {
    const raw = (upload.default_field_metadata ?? {});
    if (raw.alt && typeof raw.alt === 'object') {
        const alt = raw.alt;
        return {
            locales: Object.keys(alt),
            alt,
            title: (raw.title ?? {}),
            focal_point: raw.focal_point ?? null,
            poster_time: raw.poster_time ?? null,
        };
    }
    const locales = Object.keys(raw);
    const alt = {};
    const title = {};
    let focal = null;
    let poster = null;
    for (const locale of locales) {
        const entry = (raw[locale] ?? {});
        alt[locale] = entry.alt ?? null;
        title[locale] = entry.title ?? null;
        focal = focal ?? (entry.focal_point ?? null);
        poster = poster ?? (entry.poster_time ?? null);
    }
    return { locales, alt, title, focal_point: focal, poster_time: poster };
}
/** A CMA error: the HTTP status and the first `api_error` code. */
export class ApiError extends Error {
    status;
    code;
    details;
    constructor(status, code, details) {
        super(`${code} (${status})`);
        this.status = status;
        this.code = code;
        this.details = details;
    }
}
/** JSON:API resource → flat object (with its `meta`), as the official client does. */
function flatten(resource) {
    const out = { id: resource.id, type: resource.type, ...(resource.attributes ?? {}) };
    for (const [name, rel] of Object.entries(resource.relationships ?? {}))
        out[name] = rel.data;
    if (resource.meta)
        out.meta = resource.meta;
    return out;
}
function errorFrom(status, body) {
    const first = body?.data?.[0];
    return new ApiError(status, first?.attributes?.code ?? `HTTP_${status}`, first?.attributes?.details ?? {});
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export class Api {
    token;
    base;
    /** Called once when the server says the token is not (or no longer) valid. */
    onUnauthorized = () => { };
    constructor(token, base = '') {
        this.token = token;
        this.base = base;
    }
    async request(method, path, body, query) {
        const url = `${this.base}${path}${query && [...query].length ? `?${query}` : ''}`;
        for (let attempt = 0;; attempt += 1) {
            const response = await fetch(url, {
                method,
                headers: {
                    Authorization: `Bearer ${this.token}`,
                    'X-Api-Version': '3',
                    Accept: 'application/json',
                    'Content-Type': 'application/vnd.api+json',
                },
                body: body === undefined ? null : JSON.stringify(body),
            });
            if (response.status === 429 && attempt < 5) {
                const reset = Number(response.headers.get('X-RateLimit-Reset'));
                await sleep((Number.isFinite(reset) && reset > 0 ? Math.min(reset, 30) : 1) * 1000);
                continue;
            }
            const text = await response.text();
            let parsed = null;
            try {
                parsed = text ? JSON.parse(text) : null;
            }
            catch {
                if (response.ok)
                    throw new ApiError(response.status, 'INVALID_JSON', {});
            }
            if (!response.ok) {
                if (response.status === 401)
                    this.onUnauthorized();
                throw errorFrom(response.status, parsed);
            }
            return { status: response.status, body: parsed };
        }
    }
    /** A 202 job's result: polled until written, then its payload (or its error). */
    async job(jobId) {
        for (let n = 1;; n += 1) {
            await sleep(Math.min(250 * n, 2000));
            try {
                const { body } = await this.request('GET', `/job-results/${jobId}`);
                const { status, payload } = body.data.attributes;
                if (status < 200 || status > 299)
                    throw errorFrom(status, payload);
                return payload;
            }
            catch (error) {
                if (error instanceof ApiError && error.status === 404 && error.code === 'NOT_FOUND')
                    continue;
                throw error;
            }
        }
    }
    /** A call that may answer 202 with a job: the final resource either way. */
    async maybeJob(method, path, body, query) {
        const answer = await this.request(method, path, body, query);
        const doc = answer.status === 202 ? await this.job(answer.body.data.id) : answer.body;
        return flatten(doc.data);
    }
    async listUploads(q) {
        const params = new URLSearchParams();
        if (q.query)
            params.set('filter[query]', q.query);
        if (q.type)
            params.set('filter[fields][type][eq]', q.type);
        if (q.tag)
            params.set('filter[fields][tags][contains]', q.tag);
        if (q.collectionId)
            params.set('filter[fields][upload_collection][eq]', q.collectionId);
        params.set('order_by', q.orderBy ?? '_created_at_DESC');
        params.set('page[limit]', String(q.limit ?? 60));
        params.set('page[offset]', String(q.offset ?? 0));
        const { body } = await this.request('GET', '/uploads', undefined, params);
        return { items: body.data.map((r) => flatten(r)), total: body.meta.total_count };
    }
    async getUpload(id) {
        const { body } = await this.request('GET', `/uploads/${encodeURIComponent(id)}`);
        return flatten(body.data);
    }
    /** `PUT /uploads/{id}` (a job): metadata, or `path` for a new version of the file. */
    updateUpload(id, attributes, replaceStrategy) {
        const query = new URLSearchParams();
        if (replaceStrategy)
            query.set('replace_strategy', replaceStrategy);
        const body = { data: { type: 'upload', id, attributes } };
        return this.maybeJob('PUT', `/uploads/${encodeURIComponent(id)}`, body, query);
    }
    async destroyUpload(id) {
        await this.request('DELETE', `/uploads/${encodeURIComponent(id)}`);
    }
    /**
     * The upload-request flow of the clients: ask for a URL, PUT the bytes there (with progress),
     * and return the request's id (the future `path`).
     */
    async putFile(file, onProgress) {
        const { body } = await this.request('POST', '/upload-requests', { data: { type: 'upload_request', attributes: { filename: file.name } } });
        const { url, request_headers: headers } = body.data.attributes;
        await new Promise((resolve, reject) => {
            const xhr = new XMLHttpRequest();
            xhr.open('PUT', url);
            for (const [name, value] of Object.entries(headers ?? {}))
                xhr.setRequestHeader(name, value);
            xhr.upload.onprogress = (event) => {
                if (event.lengthComputable && event.total > 0)
                    onProgress(event.loaded / event.total);
            };
            xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new ApiError(xhr.status, 'UPLOAD_FAILED', {})));
            xhr.onerror = () => reject(new ApiError(0, 'NETWORK_ERROR', {}));
            xhr.send(file);
        });
        onProgress(1);
        return body.data.id;
    }
    /** A new upload from a file (POST /uploads, a job), optionally into a collection. */
    async createUpload(file, collectionId, onProgress) {
        const path = await this.putFile(file, onProgress);
        const data = { type: 'upload', attributes: { path } };
        if (collectionId)
            data.relationships = { upload_collection: { data: { type: 'upload_collection', id: collectionId } } };
        return this.maybeJob('POST', '/uploads', { data });
    }
    async listCollections() {
        const { body } = await this.request('GET', '/upload-collections');
        return body.data.map((r) => flatten(r));
    }
    async createCollection(label, parentId) {
        const data = { type: 'upload_collection', attributes: { label } };
        if (parentId)
            data.relationships = { parent: { data: { type: 'upload_collection', id: parentId } } };
        const { body } = await this.request('POST', '/upload-collections', { data });
        return flatten(body.data);
    }
    async listTags() {
        const params = new URLSearchParams({ 'page[limit]': '100' });
        const { body } = await this.request('GET', '/upload-tags', undefined, params);
        return body.data.map((r) => String(r.attributes?.name ?? r.id));
    }
    /** Checks the token with the cheapest authenticated call. */
    async check() {
        await this.request('GET', '/uploads', undefined, new URLSearchParams({ 'page[limit]': '1' }));
    }
}
