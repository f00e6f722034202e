/** Image URLs made by assetd's own transforms (imgix parameters on the upload's `url`). */
/** `url` with imgix parameters (any query the URL already has is kept). */
export function transformUrl(url, params) {
    const u = new URL(url, location.href);
    for (const [key, value] of Object.entries(params))
        u.searchParams.set(key, String(value));
    return u.toString();
}
/** A square thumbnail `src` and its 1x/2x `srcset`. */
export function thumbnail(upload, size) {
    const params = { w: size, h: size, fit: 'crop', auto: 'format' };
    const src = transformUrl(upload.url, { ...params, v: cacheKey(upload) });
    const src2 = transformUrl(upload.url, { ...params, dpr: 2, v: cacheKey(upload) });
    return { src, srcset: `${src} 1x, ${src2} 2x` };
}
/** A preview of the crop at `ratio` (w/h) around `point`, `width` CSS pixels wide. */
export function cropPreview(upload, ratio, point, width) {
    return transformUrl(upload.url, {
        w: width,
        h: Math.round((width * ratio[1]) / ratio[0]),
        fit: 'crop',
        crop: 'focalpoint',
        'fp-x': point.x.toFixed(3),
        'fp-y': point.y.toFixed(3),
        dpr: 2,
        auto: 'format',
        v: cacheKey(upload),
    });
}
/** The larger picture of the detail panel (fits within `size`). */
export function preview(upload, size) {
    return transformUrl(upload.url, { w: size, h: size, fit: 'max', auto: 'format', v: cacheKey(upload) });
}
/**
 * A keep-URL replacement changes the bytes behind the same URL: the md5 in an ignored
 * parameter makes the browser fetch the new ones.
 */
function cacheKey(upload) {
    return upload.md5.slice(0, 8);
}
/** The kind of a non-image file, for its icon and label. */
export function fileKind(upload) {
    const mime = upload.mime_type ?? '';
    if (mime.startsWith('video/'))
        return 'video';
    if (mime.startsWith('audio/'))
        return 'audio';
    if (mime === 'application/pdf')
        return 'pdf';
    if (mime.startsWith('text/'))
        return 'text';
    if (/zip|tar|gzip|compressed/.test(mime))
        return 'archive';
    return 'file';
}
