//! Rendering on this process's resources: each transform takes a slot and its estimated share of
//! the memory budget (waiting in a bounded queue when either is short), computes on the blocking
//! pool under a timeout, and gives the memory it freed back to the system. Every method reads a
//! local file and answers bytes: where the file comes from and where the result is kept is the
//! caller's business (the renditions workflow).

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{
    allocator,
    pipeline::{self, Limits, Recipe, Rendered, TransformError},
    vips,
};
use crate::{media, metrics::TransformMetrics};

/// SVGs larger than this are not sanitised in memory: they are served as downloads instead.
pub const MAX_SANITIZED_SVG_BYTES: i64 = 16 * 1024 * 1024;

const MIB: u64 = 1024 * 1024;

/// How the renderer is sized.
#[derive(Debug, Clone)]
pub struct RendererSettings {
    /// Transforms running at once (default: the number of cores).
    pub concurrency: usize,
    /// libvips worker threads per transform.
    pub threads: usize,
    /// Transforms waiting for a slot before new ones are refused with 503.
    pub max_waiting: usize,
    /// Longest a transform waits for a slot and its memory before it is refused with 503.
    pub queue_wait: Duration,
    /// Bytes the transforms computing at once may take together, by their estimates
    /// ([`pipeline::Planned::memory_bytes`]); one larger than all of it runs alone.
    pub memory: u64,
    /// Longest a transform may compute.
    pub timeout: Duration,
    pub limits: Limits,
    /// Where originals are copied when storage is not a local disk, and poster frames are made.
    pub tmp_dir: PathBuf,
    /// The ffmpeg executable that takes video poster frames.
    pub ffmpeg: String,
}

/// Renders local files within the process's bounds: transform slots, the memory budget, the
/// queue and the timeout.
pub struct Renderer {
    settings: RendererSettings,
    permits: Arc<Semaphore>,
    /// The memory budget in MiB, one permit each: a transform holds its estimate while it runs.
    memory: Arc<Semaphore>,
    waiting: AtomicUsize,
    /// Render times, for `/metrics`.
    metrics: TransformMetrics,
}

impl Renderer {
    /// Starts libvips (once per process), fixes the allocator's mmap threshold (see
    /// `allocator.rs`) and makes the temporary directory.
    pub fn new(settings: RendererSettings, metrics: TransformMetrics) -> Result<Self, TransformError> {
        vips::init(settings.threads, settings.timeout.as_secs().max(1)).map_err(|e| TransformError::Internal(e.0))?;
        if !allocator::configure() {
            tracing::debug!("the allocator keeps its own mmap threshold: freed image memory may stay in its arenas");
        }
        std::fs::create_dir_all(&settings.tmp_dir).map_err(|e| TransformError::Internal(e.to_string()))?;
        let permits = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let memory = Arc::new(Semaphore::new(budget_units(settings.memory) as usize));
        Ok(Renderer { settings, permits, memory, waiting: AtomicUsize::new(0), metrics })
    }

    /// What this renderer was started with.
    pub fn settings(&self) -> &RendererSettings {
        &self.settings
    }

    /// Transforms the image at `path` (of type `mime`) by `recipe`; `keep` (the file) lives until
    /// the render ends.
    pub async fn render<K: Send + 'static>(
        &self,
        path: PathBuf,
        mime: &str,
        recipe: &Recipe,
        keep: K,
    ) -> Result<Rendered, TransformError> {
        self.plan_and_render(path, mime, recipe, keep, "image").await
    }

    /// The frame of the video at `video` at `at` seconds, taken by ffmpeg into a temporary PNG,
    /// transformed by `recipe`. `keep` (the video) lives until ffmpeg ends.
    pub async fn poster_frame<K: Send>(
        &self,
        video: &Path,
        at: f64,
        recipe: &Recipe,
        keep: K,
    ) -> Result<Rendered, TransformError> {
        let frame = Scratch(self.settings.tmp_dir.join(format!("poster-{}.png", uuid::Uuid::new_v4())));
        // ffmpeg runs in a process of its own: the slot bounds its CPU, its memory is not ours.
        let admission = self.admit(0).await?;
        media::extract_frame(&self.settings.ffmpeg, video, at, &frame.0, self.settings.timeout).await.map_err(
            |error| match error {
                media::MediaError::Decode(message) => TransformError::Decode(message),
                media::MediaError::Timeout => TransformError::Timeout,
                other => TransformError::Internal(other.to_string()),
            },
        )?;
        drop((admission, keep));
        let path = frame.0.clone();
        self.plan_and_render(path, "image/png", recipe, frame, "poster").await
    }

    /// An animated preview of the video at `video` (see [`media::encode_animation`]), made by
    /// ffmpeg under a slot; it holds the encoded file's bytes ([`media::video_animation::MAX_BYTES`]
    /// at most) against the memory budget. `keep` (the video) lives until ffmpeg ends.
    pub async fn animation<K: Send>(
        &self,
        video: &Path,
        clip: &media::AnimatedClip,
        keep: K,
    ) -> Result<Vec<u8>, TransformError> {
        let name = format!("animated-{}.{}", uuid::Uuid::new_v4(), clip.format.extension());
        let file = Scratch(self.settings.tmp_dir.join(name));
        let admission = self.admit(media::video_animation::MAX_BYTES).await?;
        let started = std::time::Instant::now();
        media::encode_animation(&self.settings.ffmpeg, video, clip, &file.0, self.settings.timeout).await.map_err(
            |error| match error {
                media::MediaError::Decode(message) => TransformError::Decode(message),
                media::MediaError::Timeout => TransformError::Timeout,
                other => TransformError::Internal(other.to_string()),
            },
        )?;
        drop(keep);
        let size = tokio::fs::metadata(&file.0).await.map_err(|e| TransformError::Internal(e.to_string()))?.len();
        if size > media::video_animation::MAX_BYTES {
            return Err(TransformError::OutputTooLarge { bytes: size, limit: media::video_animation::MAX_BYTES });
        }
        let bytes = tokio::fs::read(&file.0).await.map_err(|e| TransformError::Internal(e.to_string()))?;
        drop(admission);
        self.metrics.record_render("animation", started.elapsed());
        Ok(bytes)
    }

    /// The SVG at `path` with script and remote references removed (see
    /// [`crate::media::sanitize_svg`]), read whole: callers pass SVGs of at most
    /// [`MAX_SANITIZED_SVG_BYTES`]. `keep` (the file) lives until it is read.
    pub async fn sanitize_svg<K: Send + 'static>(&self, path: PathBuf, keep: K) -> Result<Vec<u8>, TransformError> {
        // The sanitiser streams; what it holds is the copy it writes (at most the input).
        let admission = self.admit(2 * MAX_SANITIZED_SVG_BYTES.unsigned_abs()).await?;
        self.blocking(
            move || {
                let _keep = keep;
                let svg = std::fs::read(&path).map_err(|e| TransformError::Internal(e.to_string()))?;
                let safe = media::sanitize_svg(&svg).map_err(|e| TransformError::Decode(e.to_string()))?;
                Ok(safe.into_bytes())
            },
            admission,
            "svg",
        )
        .await
    }

    /// Plans a transform of the image at `path` from its header, waits for its turn (a slot and
    /// its estimated memory), then renders it. `keep` (the file) lives until the render ends.
    async fn plan_and_render<K: Send + 'static>(
        &self,
        path: PathBuf,
        mime: &str,
        recipe: &Recipe,
        keep: K,
        kind: &'static str,
    ) -> Result<Rendered, TransformError> {
        let (mime, recipe, limits) = (mime.to_owned(), recipe.clone(), self.settings.limits);
        let header_path = path.clone();
        // Reading a header takes a millisecond: no slot, but off the async threads.
        let planned = tokio::task::spawn_blocking(move || pipeline::plan(&header_path, &mime, &recipe, &limits))
            .await
            .map_err(|join| TransformError::Internal(join.to_string()))??;
        if planned.format().is_video() {
            return self.video_of_frames(path, planned, keep).await;
        }
        let admission = self.admit(planned.memory_bytes()).await?;
        let deadline = std::time::Instant::now() + self.settings.timeout;
        self.blocking(
            move || {
                let _keep = keep;
                pipeline::render(&path, &planned, deadline)
            },
            admission,
            kind,
        )
        .await
    }

    /// `fm=mp4`/`webm`: the animation's frames rendered into a scratch directory (under the plan's
    /// slot and memory), then encoded by ffmpeg under a slot of its own, both within the timeout;
    /// the video is at most [`media::video_animation::MAX_BYTES`], held against the budget.
    async fn video_of_frames<K: Send + 'static>(
        &self,
        path: PathBuf,
        planned: pipeline::Planned,
        keep: K,
    ) -> Result<Rendered, TransformError> {
        let started = std::time::Instant::now();
        let dir = Scratch(self.settings.tmp_dir.join(format!("frames-{}", uuid::Uuid::new_v4())));
        tokio::fs::create_dir(&dir.0).await.map_err(|e| TransformError::Internal(e.to_string()))?;
        let admission = self.admit(planned.memory_bytes()).await?;
        let deadline = started + self.settings.timeout;
        let (frames_dir, plan) = (dir.0.clone(), planned.clone());
        let list = self
            .blocking(
                move || {
                    let _keep = keep;
                    pipeline::render_frames(&path, &plan, &frames_dir, deadline)
                },
                admission,
                "frames",
            )
            .await?;
        let format = planned.format();
        let codec = if format == super::OutputFormat::Mp4 { media::FramesVideo::Mp4 } else { media::FramesVideo::Webm };
        let video = dir.0.join(format!("video.{}", format.as_str()));
        let admission = self.admit(media::video_animation::MAX_BYTES).await?;
        let left = self.settings.timeout.saturating_sub(started.elapsed()).max(Duration::from_secs(1));
        media::encode_frames(&self.settings.ffmpeg, &list, codec, &video, left).await.map_err(|error| match error {
            media::MediaError::Decode(message) => TransformError::Internal(message),
            media::MediaError::Timeout => TransformError::Timeout,
            other => TransformError::Internal(other.to_string()),
        })?;
        let size = tokio::fs::metadata(&video).await.map_err(|e| TransformError::Internal(e.to_string()))?.len();
        if size > media::video_animation::MAX_BYTES {
            return Err(TransformError::OutputTooLarge { bytes: size, limit: media::video_animation::MAX_BYTES });
        }
        let bytes = tokio::fs::read(&video).await.map_err(|e| TransformError::Internal(e.to_string()))?;
        drop(admission);
        self.metrics.record_render("video", started.elapsed());
        let (width, height) = planned.output_size();
        Ok(Rendered { bytes, format, width: width & !1, height: height & !1 })
    }

    /// A transform slot and `bytes` of the memory budget (all of it at most), waiting in the
    /// bounded queue (at most `queue_wait`) when either is short. The queue is first come, first
    /// served: a large transform waiting for memory is not overtaken by small ones.
    async fn admit(&self, bytes: u64) -> Result<Admission, TransformError> {
        let units = memory_units(bytes, self.settings.memory);
        if let Some(admission) = self.try_admit(units) {
            return Ok(admission);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.settings.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(TransformError::Busy);
        }
        let waited = tokio::time::timeout(self.settings.queue_wait, async {
            let memory = self.memory.clone().acquire_many_owned(units).await?;
            let slot = self.permits.clone().acquire_owned().await?;
            Ok::<_, tokio::sync::AcquireError>(Admission { _slot: slot, _memory: memory })
        })
        .await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Err(_) => Err(TransformError::QueueTimeout),
            Ok(Err(_)) => Err(TransformError::Internal("the transform service stopped".into())),
            Ok(Ok(admission)) => Ok(admission),
        }
    }

    fn try_admit(&self, units: u32) -> Option<Admission> {
        let memory = self.memory.clone().try_acquire_many_owned(units).ok()?;
        let slot = self.permits.clone().try_acquire_owned().ok()?;
        Some(Admission { _slot: slot, _memory: memory })
    }

    /// Runs CPU-bound work on the blocking pool, holding `admission` until it really ends, then
    /// gives the memory the work freed back to the system (see [`allocator`]).
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, TransformError> + Send + 'static,
        admission: Admission,
        kind: &'static str,
    ) -> Result<T, TransformError> {
        let metrics = self.metrics.clone();
        let task = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let result = work();
            if result.is_ok() {
                metrics.record_render(kind, started.elapsed());
            }
            drop(admission);
            allocator::release_free_memory();
            result
        });
        // libvips kills an evaluation at the timeout; this is the backstop should it not.
        let backstop = self.settings.timeout + Duration::from_secs(5);
        match tokio::time::timeout(backstop, task).await {
            Err(_) => Err(TransformError::Timeout),
            Ok(Err(join)) => Err(TransformError::Internal(join.to_string())),
            Ok(Ok(result)) => result,
        }
    }
}

/// A transform's turn: a slot and its share of the memory budget, released when dropped.
struct Admission {
    _slot: OwnedSemaphorePermit,
    _memory: OwnedSemaphorePermit,
}

/// A file or directory the renderer writes (a poster frame, a video's frames), removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let removed = if self.0.is_dir() { std::fs::remove_dir_all(&self.0) } else { std::fs::remove_file(&self.0) };
        if let Err(error) = removed {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(%error, path = %self.0.display(), "cannot remove a temporary file");
            }
        }
    }
}

/// The memory budget in permits of one MiB (at least one).
fn budget_units(budget: u64) -> u32 {
    u32::try_from(budget / MIB).unwrap_or(u32::MAX).max(1)
}

/// The permits an estimate of `bytes` takes: whole MiB, at least one, at most the whole budget.
fn memory_units(bytes: u64, budget: u64) -> u32 {
    u32::try_from(bytes.div_ceil(MIB)).unwrap_or(u32::MAX).clamp(1, budget_units(budget))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn service(memory_mib: u64, concurrency: usize, max_waiting: usize, dir: &std::path::Path) -> Renderer {
        let settings = RendererSettings {
            concurrency,
            threads: 1,
            max_waiting,
            queue_wait: Duration::from_millis(300),
            memory: memory_mib * MIB,
            timeout: Duration::from_secs(30),
            limits: Limits { max_input_pixels: 100_000_000, max_output_pixels: 40_000_000, max_upscale: 0.0 },
            tmp_dir: dir.join("tmp"),
            ffmpeg: "ffmpeg".into(),
        };
        Renderer::new(settings, TransformMetrics::default()).unwrap()
    }

    async fn refused_after_the_wait(service: &Renderer, bytes: u64) {
        let started = Instant::now();
        let refused = service.admit(bytes).await;
        assert!(matches!(refused, Err(TransformError::QueueTimeout)), "{:?}", refused.err());
        assert!(started.elapsed() >= Duration::from_millis(290), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn transforms_take_their_estimate_from_the_memory_budget() {
        let dir = tempfile::tempdir().unwrap();
        let service = Arc::new(service(100, 4, 8, dir.path()));
        let large = service.admit(80 * MIB).await.unwrap();
        // 30 MiB do not fit beside it: it waits, and is refused at the queue wait limit.
        refused_after_the_wait(&service, 30 * MIB).await;
        // 20 MiB do, at once.
        let small = service.try_admit(memory_units(20 * MIB, service.settings.memory));
        assert!(small.is_some(), "20 MiB fit beside 80 of 100");
        drop(small);
        // A waiting transform is admitted as soon as the memory is given back.
        let waiter = tokio::spawn({
            let service = service.clone();
            async move { service.admit(60 * MIB).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(large);
        waiter.await.unwrap().expect("admitted once the large transform ended");
        // An estimate above the whole budget runs alone, holding all of it.
        let alone = service.admit(500 * MIB).await.unwrap();
        assert!(service.try_admit(1).is_none(), "nothing runs beside it");
        drop(alone);
        assert!(service.try_admit(100).is_some(), "the whole budget is back");
    }

    #[tokio::test]
    async fn slots_bound_the_transforms_computing_at_once_and_the_queue_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(1024, 1, 1, dir.path());
        let first = service.admit(MIB).await.unwrap();
        refused_after_the_wait(&service, MIB).await;
        // One may wait; a second waiting one is refused at once.
        let (waiting, refused) = tokio::join!(service.admit(MIB), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            service.admit(MIB).await
        });
        assert!(matches!(refused, Err(TransformError::Busy)), "{:?}", refused.err());
        assert!(matches!(waiting, Err(TransformError::QueueTimeout)), "{:?}", waiting.err());
        drop(first);
        assert!(service.admit(MIB).await.is_ok());
    }
}
