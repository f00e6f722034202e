/**
 * The CMA client of the page: the same calls and headers as the official DatoCMS client
 * (`Authorization: Bearer`, `X-Api-Version: 3`, JSON:API bodies), on this origin.
 * 429 answers are retried after `X-RateLimit-Reset` seconds; jobs (202) are polled.
 */

export interface FocalPoint {
  x: number;
  y: number;
}

/** `default_field_metadata` read into one shape, whichever of the two the server answers in. */
export interface FieldMetadata {
  locales: string[];
  alt: Record<string, string | null>;
  title: Record<string, string | null>;
  focal_point: FocalPoint | null;
  /** A video's poster frame, in seconds (null: the middle). */
  poster_time: number | null;
}

type Json = Record<string, unknown>;

/**
 * The server answers `default_field_metadata` field-keyed (`{alt: {en: …}, focal_point}`) or
 * locale-keyed (`{en: {alt, focal_point}}`), as configured (spec §2.3); it takes both on write,
 * and this page always writes field-keyed. Its keys are the project's locales, so the page needs
 * no other source for them.
 */
export function metadataOf(upload: Upload): FieldMetadata {
  const raw = (upload.default_field_metadata ?? {}) as Json;
  if (raw.alt && typeof raw.alt === 'object') {
    const alt = raw.alt as Record<string, string | null>;
    return {
      locales: Object.keys(alt),
      alt,
      title: (raw.title ?? {}) as Record<string, string | null>,
      focal_point: (raw.focal_point as FocalPoint | null) ?? null,
      poster_time: (raw.poster_time as number | null) ?? null,
    };
  }
  const locales = Object.keys(raw);
  const alt: Record<string, string | null> = {};
  const title: Record<string, string | null> = {};
  let focal: FocalPoint | null = null;
  let poster: number | null = null;
  for (const locale of locales) {
    const entry = (raw[locale] ?? {}) as Json;
    alt[locale] = (entry.alt as string | null) ?? null;
    title[locale] = (entry.title as string | null) ?? null;
    focal = focal ?? ((entry.focal_point as FocalPoint | null) ?? null);
    poster = poster ?? ((entry.poster_time as number | null) ?? null);
  }
  return { locales, alt, title, focal_point: focal, poster_time: poster };
}

export interface Upload {
  id: string;
  url: string;
  path: string;
  filename: string;
  basename: string;
  size: number;
  width: number | null;
  height: number | null;
  format: string | null;
  mime_type: string | null;
  is_image: boolean;
  md5: string;
  /** Seconds, for videos and audio. */
  duration: number | null;
  /** Set once a video's HLS stream is served (`/video/{id}.m3u8`). */
  mux_playback_id: string | null;
  author: string | null;
  copyright: string | null;
  notes: string | null;
  tags: string[];
  smart_tags: string[];
  default_field_metadata: unknown;
  created_at: string;
  updated_at: string;
  upload_collection: { id: string } | null;
  /** assetd's own `meta.video`: where a video's stream stands. */
  meta?: { video?: VideoState };
}

export interface VideoState {
  status: 'preparing' | 'ready' | 'errored';
  error: string | null;
}

export interface Collection {
  id: string;
  label: string;
  position: number;
  parent: { id: string } | null;
  children: { id: string }[];
}

export interface ListQuery {
  query?: string;
  type?: string;
  tag?: string;
  collectionId?: string;
  orderBy?: string;
  limit?: number;
  offset?: number;
}

export interface Page<T> {
  items: T[];
  total: number;
}

/** A CMA error: the HTTP status and the first `api_error` code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly details: unknown,
  ) {
    super(`${code} (${status})`);
  }
}

interface Resource {
  id: string;
  type: string;
  attributes?: Record<string, unknown>;
  relationships?: Record<string, { data: unknown }>;
  meta?: Record<string, unknown>;
}

/** JSON:API resource → flat object (with its `meta`), as the official client does. */
function flatten<T>(resource: Resource): T {
  const out: Record<string, unknown> = { id: resource.id, type: resource.type, ...(resource.attributes ?? {}) };
  for (const [name, rel] of Object.entries(resource.relationships ?? {})) out[name] = rel.data;
  if (resource.meta) out.meta = resource.meta;
  return out as T;
}

function errorFrom(status: number, body: unknown): ApiError {
  const first = (body as { data?: { attributes?: { code?: string; details?: unknown } }[] })?.data?.[0];
  return new ApiError(status, first?.attributes?.code ?? `HTTP_${status}`, first?.attributes?.details ?? {});
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Api {
  /** Called once when the server says the token is not (or no longer) valid. */
  onUnauthorized: () => void = () => {};

  constructor(
    readonly token: string,
    readonly base = '',
  ) {}

  async request<T = unknown>(method: string, path: string, body?: unknown, query?: URLSearchParams): Promise<{ status: number; body: T }> {
    const url = `${this.base}${path}${query && [...query].length ? `?${query}` : ''}`;
    for (let attempt = 0; ; attempt += 1) {
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
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        if (response.ok) throw new ApiError(response.status, 'INVALID_JSON', {});
      }
      if (!response.ok) {
        if (response.status === 401) this.onUnauthorized();
        throw errorFrom(response.status, parsed);
      }
      return { status: response.status, body: parsed as T };
    }
  }

  /** A 202 job's result: polled until written, then its payload (or its error). */
  async job<T>(jobId: string): Promise<T> {
    for (let n = 1; ; n += 1) {
      await sleep(Math.min(250 * n, 2000));
      try {
        const { body } = await this.request<{ data: { attributes: { status: number; payload: unknown } } }>(
          'GET',
          `/job-results/${jobId}`,
        );
        const { status, payload } = body.data.attributes;
        if (status < 200 || status > 299) throw errorFrom(status, payload);
        return payload as T;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404 && error.code === 'NOT_FOUND') continue;
        throw error;
      }
    }
  }

  /** A call that may answer 202 with a job: the final resource either way. */
  private async maybeJob<T>(method: string, path: string, body?: unknown, query?: URLSearchParams): Promise<T> {
    const answer = await this.request<{ data: Resource }>(method, path, body, query);
    const doc = answer.status === 202 ? await this.job<{ data: Resource }>(answer.body.data.id) : answer.body;
    return flatten<T>(doc.data);
  }

  async listUploads(q: ListQuery): Promise<Page<Upload>> {
    const params = new URLSearchParams();
    if (q.query) params.set('filter[query]', q.query);
    if (q.type) params.set('filter[fields][type][eq]', q.type);
    if (q.tag) params.set('filter[fields][tags][contains]', q.tag);
    if (q.collectionId) params.set('filter[fields][upload_collection][eq]', q.collectionId);
    params.set('order_by', q.orderBy ?? '_created_at_DESC');
    params.set('page[limit]', String(q.limit ?? 60));
    params.set('page[offset]', String(q.offset ?? 0));
    const { body } = await this.request<{ data: Resource[]; meta: { total_count: number } }>('GET', '/uploads', undefined, params);
    return { items: body.data.map((r) => flatten<Upload>(r)), total: body.meta.total_count };
  }

  async getUpload(id: string): Promise<Upload> {
    const { body } = await this.request<{ data: Resource }>('GET', `/uploads/${encodeURIComponent(id)}`);
    return flatten<Upload>(body.data);
  }

  /** `PUT /uploads/{id}` (a job): metadata, or `path` for a new version of the file. */
  updateUpload(id: string, attributes: Record<string, unknown>, replaceStrategy?: 'keep_url' | 'create_new_url'): Promise<Upload> {
    const query = new URLSearchParams();
    if (replaceStrategy) query.set('replace_strategy', replaceStrategy);
    const body = { data: { type: 'upload', id, attributes } };
    return this.maybeJob<Upload>('PUT', `/uploads/${encodeURIComponent(id)}`, body, query);
  }

  async destroyUpload(id: string): Promise<void> {
    await this.request('DELETE', `/uploads/${encodeURIComponent(id)}`);
  }

  /**
   * The upload-request flow of the clients: ask for a URL, PUT the bytes there (with progress),
   * and return the request's id (the future `path`).
   */
  async putFile(file: File, onProgress: (fraction: number) => void): Promise<string> {
    const { body } = await this.request<{ data: { id: string; attributes: { url: string; request_headers: Record<string, string> } } }>(
      'POST',
      '/upload-requests',
      { data: { type: 'upload_request', attributes: { filename: file.name } } },
    );
    const { url, request_headers: headers } = body.data.attributes;
    await new Promise<void>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', url);
      for (const [name, value] of Object.entries(headers ?? {})) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
      };
      xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new ApiError(xhr.status, 'UPLOAD_FAILED', {})));
      xhr.onerror = () => reject(new ApiError(0, 'NETWORK_ERROR', {}));
      xhr.send(file);
    });
    onProgress(1);
    return body.data.id;
  }

  /** A new upload from a file (POST /uploads, a job), optionally into a collection. */
  async createUpload(file: File, collectionId: string | null, onProgress: (fraction: number) => void): Promise<Upload> {
    const path = await this.putFile(file, onProgress);
    const data: Record<string, unknown> = { type: 'upload', attributes: { path } };
    if (collectionId) data.relationships = { upload_collection: { data: { type: 'upload_collection', id: collectionId } } };
    return this.maybeJob<Upload>('POST', '/uploads', { data });
  }

  async listCollections(): Promise<Collection[]> {
    const { body } = await this.request<{ data: Resource[] }>('GET', '/upload-collections');
    return body.data.map((r) => flatten<Collection>(r));
  }

  async createCollection(label: string, parentId: string | null): Promise<Collection> {
    const data: Record<string, unknown> = { type: 'upload_collection', attributes: { label } };
    if (parentId) data.relationships = { parent: { data: { type: 'upload_collection', id: parentId } } };
    const { body } = await this.request<{ data: Resource }>('POST', '/upload-collections', { data });
    return flatten<Collection>(body.data);
  }

  async listTags(): Promise<string[]> {
    const params = new URLSearchParams({ 'page[limit]': '100' });
    const { body } = await this.request<{ data: Resource[] }>('GET', '/upload-tags', undefined, params);
    return body.data.map((r) => String(r.attributes?.name ?? r.id));
  }

  /** Checks the token with the cheapest authenticated call. */
  async check(): Promise<void> {
    await this.request('GET', '/uploads', undefined, new URLSearchParams({ 'page[limit]': '1' }));
  }
}
