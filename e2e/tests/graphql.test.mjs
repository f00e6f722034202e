// The GraphQL edge (issue 17) with DatoCMS's own front-end client: `@datocms/cda-client`'s
// executeQuery, pointed at assetd with its `graphqlEndpointUrl` option, runs the queries of
// DatoCMS's "Images and videos" documentation against uploads made with the CMA client; the
// answers have the documented shapes, every srcSet URL renders at the width it claims, and a bad
// query is the client's ApiError carrying GraphQL's `errors`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';

import { spawnSync } from 'node:child_process';

import { executeQuery, ApiError } from '@datocms/cda-client';

import { useServer, fixture, getBytes, jpegSize, makeClip, sleep } from '../harness.mjs';

const T = { timeout: 180000 };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'assetd-gql-'));

/** A 1200×800 JPEG photo made with ffmpeg's test source. */
function makePhoto(file) {
  const made = spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i',
    'testsrc2=size=1200x800', '-frames:v', '1', '-q:v', '3', file], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  return file;
}

const srv = useServer({ env: { ASSETD_VIDEO_SEGMENT_SECONDS: '2', ASSETD_VIDEO_PRESET: 'ultrafast' } }, async (ctx) => {
  ctx.photo = await ctx.client.uploads.createFromLocalFile({
    localPath: makePhoto(path.join(tmp, 'photo.jpg')),
    default_field_metadata: { en: { alt: 'A test card', title: 'Card', custom_data: {}, focal_point: { x: 0.3, y: 0.6 } } },
  });
  ctx.cat = await ctx.client.uploads.createFromLocalFile({
    localPath: await fixture('cat.jpg'),
    default_field_metadata: {
      en: { alt: 'A cat', title: 'Cat', custom_data: { credit: 'Ann' }, focal_point: { x: 0.3, y: 0.6 } },
      it: { alt: 'Un gatto', title: null, custom_data: {}, focal_point: { x: 0.3, y: 0.6 } },
    },
    tags: ['pets'],
  });
  ctx.query = (query, variables = {}) =>
    executeQuery(query, { token: ctx.token, variables, graphqlEndpointUrl: `${ctx.baseUrl}/graphql` });
});

const RESPONSIVE_IMAGE_FRAGMENT = `
  fragment responsiveImageFragment on ResponsiveImage {
    srcSet webpSrcSet sizes src width height aspectRatio alt title bgColor base64
  }`;

test('the docs image query: responsiveImage with imgixParams, every srcSet entry renders its width', T, async () => {
  const answer = await srv.query(`
    query ImageQuery($id: UploadId, $cat: UploadId) {
      photo: upload(filter: { id: { eq: $id } }) {
        responsiveImage(imgixParams: { fit: crop, w: 300, h: 300, auto: format }) { ...responsiveImageFragment }
      }
      upload(filter: { id: { eq: $cat } }) {
        plain: responsiveImage { ...responsiveImageFragment }
        blurhash thumbhash blurUpThumb
        colors { hex red green blue alpha }
        focalPoint { x y }
        url(imgixParams: { w: 40, fm: png })
      }
    }
    ${RESPONSIVE_IMAGE_FRAGMENT}`, { id: srv.photo.id, cat: srv.cat.id });
  const file = answer.upload;
  const image = answer.photo.responsiveImage;
  assert.equal(image.width, 300);
  assert.equal(image.height, 300);
  assert.equal(image.aspectRatio, 1);
  assert.equal(image.alt, 'A test card');
  assert.equal(image.title, 'Card');
  assert.equal(image.sizes, '(max-width: 300px) 100vw, 300px');
  assert.match(image.base64, /^data:image\/jpeg;base64,/);
  assert.match(image.bgColor, /^#[0-9a-f]{6}$/);
  // The stored focal point drives the crop, as DatoCMS writes it.
  assert.match(image.src, /\?auto=format&crop=focalpoint&fit=crop&fp-x=0\.3&fp-y=0\.6&h=300&w=300$/);
  // DatoCMS's candidates 0.25× … 4×, none wider than the 1200 px original, each rendering its width.
  const cropped = image.srcSet.split(',').map((e) => e.split(' '));
  assert.deepEqual(cropped.map(([, w]) => w), ['75w', '150w', '225w', '300w', '450w', '600w', '900w', '1200w']);
  for (const [url, descriptor] of cropped) {
    const res = await getBytes(url, { headers: { accept: 'image/jpeg' } });
    assert.equal(res.status, 200, url);
    const size = jpegSize(res.buf);
    assert.equal(size.width, Number.parseInt(descriptor, 10), url);
    assert.equal(size.height, size.width, url);
  }
  assert.match(file.blurUpThumb, /^data:image\/jpeg;base64,/);
  assert.deepEqual(file.focalPoint, { x: 0.3, y: 0.6 });
  assert.ok(file.colors.length > 0 && file.colors[0].hex.startsWith('#'));
  assert.ok(file.blurhash && file.thumbhash);

  // cat.jpg is 80×60: without parameters the srcset stops at the original's width.
  const plain = file.plain;
  assert.equal(plain.width, 80);
  assert.equal(plain.height, 60);
  assert.ok(!plain.src.includes('?'));
  const entries = plain.srcSet.split(',').map((e) => e.split(' '));
  assert.deepEqual(entries.map(([, w]) => w), ['20w', '40w', '60w', '80w']);
  for (const [url, descriptor] of entries) {
    const res = await getBytes(url, { headers: { accept: 'image/jpeg' } });
    assert.equal(res.status, 200, url);
    assert.equal(jpegSize(res.buf).width, Number.parseInt(descriptor, 10), url);
  }
  for (const entry of plain.webpSrcSet.split(',')) {
    const [url] = entry.split(' ');
    assert.match(url, /fm=webp/);
    const res = await getBytes(url);
    assert.equal(res.status, 200, url);
    assert.equal(res.headers.get('content-type'), 'image/webp');
  }
  const png = await getBytes(file.url);
  assert.equal(png.headers.get('content-type'), 'image/png');
});

test('the docs listing queries: allUploads with filters, locales, _allUploadsMeta', T, async () => {
  const answer = await srv.query(`
    query {
      allUploads(first: 10, filter: { type: { eq: image }, tags: { contains: "pets" } }, orderBy: [_createdAt_DESC]) {
        id filename basename format mimeType size width height alt title customData tags smartTags
        _createdAt _updatedAt
      }
      it: allUploads(locale: it, fallbackLocales: [en], filter: { tags: { contains: "pets" } }) { alt title customData }
      _allUploadsMeta(filter: { type: { eq: image }, tags: { contains: "pets" } }) { count }
      images: _allUploadsMeta(filter: { type: { eq: image } }) { count }
    }`);
  assert.equal(answer.allUploads.length, 1);
  const [cat] = answer.allUploads;
  assert.equal(cat.id, srv.cat.id);
  assert.equal(cat.filename, 'cat.jpg');
  assert.equal(cat.mimeType, 'image/jpeg');
  assert.deepEqual([cat.width, cat.height], [80, 60]);
  assert.deepEqual(cat.customData, { credit: 'Ann' });
  assert.deepEqual(cat.tags, ['pets']);
  assert.ok(!Number.isNaN(Date.parse(cat._createdAt)));
  assert.deepEqual(answer.it[0], { alt: 'Un gatto', title: 'Cat', customData: { credit: 'Ann' } });
  assert.equal(answer._allUploadsMeta.count, 1);
  assert.equal(answer.images.count, 2, 'the photo and the cat');
});

test('the docs video query: video { muxPlaybackId streamingUrl mp4Url thumbnailUrl … }', T, async () => {
  const clip = makeClip(path.join(tmp, 'clip.mp4'), { size: '640x360', seconds: 4 });
  const created = await srv.client.uploads.createFromLocalFile({ localPath: clip });
  const deadline = Date.now() + 120000;
  let video;
  for (;;) {
    const answer = await srv.query(`
      query($id: UploadId) {
        upload(filter: { id: { eq: $id } }) {
          video { muxPlaybackId title width height duration blurUpThumb streamingUrl mp4Url(res: high) low: mp4Url(exactRes: low) thumbnailUrl(format: jpg) }
        }
      }`, { id: created.id });
    video = answer.upload.video;
    if (video) break;
    assert.ok(Date.now() < deadline, 'the stream within 120 s');
    await sleep(500);
  }
  const upload = await srv.client.uploads.find(created.id);
  assert.equal(video.muxPlaybackId, upload.mux_playback_id);
  assert.deepEqual([video.width, video.height, video.duration], [640, 360, 4]);
  assert.equal(video.streamingUrl, `${srv.baseUrl}/video/${upload.mux_playback_id}.m3u8`);
  const master = await getBytes(video.streamingUrl);
  assert.equal(master.status, 200);
  assert.match(master.buf.toString(), /#EXTM3U/);
  // 360 lines: only low.mp4 exists, so "up to high" is low.
  assert.equal(video.mp4Url, `${srv.baseUrl}/video/${upload.mux_playback_id}/low.mp4`);
  assert.equal(video.low, video.mp4Url);
  assert.equal((await getBytes(video.mp4Url)).status, 200);
  const thumbnail = await getBytes(video.thumbnailUrl);
  assert.equal(thumbnail.status, 200);
  assert.equal(thumbnail.headers.get('content-type'), 'image/jpeg');
});

test('a bad query is the client\'s ApiError with GraphQL errors; a bad token is refused', T, async () => {
  await assert.rejects(srv.query('{ allUploads(first: 501) { id } }'), (error) => {
    assert.ok(error instanceof ApiError, String(error));
    assert.match(JSON.stringify(error.response.body), /first must be between 0 and 500/);
    return true;
  });
  await assert.rejects(srv.query('{ allUploads { url(imgixParams: { txt: "hello" }) } }'), (error) => {
    assert.ok(error instanceof ApiError);
    assert.match(JSON.stringify(error.response.body.errors), /txt/);
    return true;
  });
  await assert.rejects(
    executeQuery('{ _allUploadsMeta { count } }', { token: 'wrong', graphqlEndpointUrl: `${srv.baseUrl}/graphql` }),
    (error) => error instanceof ApiError && error.response.status === 401,
  );
});
