//! What resolvers share: the app, and the locales a field's texts are read in.

use std::sync::Arc;

use async_graphql::dynamic::{ResolverContext, ValueAccessor};

use crate::{app::App, domain::Locale};

/// The schema's data: the capabilities resolvers read.
pub(super) struct GraphqlData {
    pub(super) app: Arc<App>,
    pub(super) limits: OutputLimits,
}

/// The renderer's bounds on an output, which the sizes `responsiveImage` announces follow.
#[derive(Debug, Clone, Copy)]
pub(super) struct OutputLimits {
    pub(super) max_output_pixels: u64,
    pub(super) max_upscale: f64,
}

/// The locale a text is read in and the ones tried after it (`locale`, `fallbackLocales`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LocaleScope {
    pub(super) locale: Locale,
    pub(super) fallbacks: Vec<Locale>,
}

impl LocaleScope {
    /// The scope `ctx`'s `locale`/`fallbackLocales` arguments name, else `inherited`.
    pub(super) fn from_args(ctx: &ResolverContext<'_>, inherited: &LocaleScope) -> async_graphql::Result<LocaleScope> {
        let app = &ctx.data::<GraphqlData>()?.app;
        let locale = match ctx.args.get("locale") {
            Some(value) => site_locale(app, &value)?,
            None => inherited.locale.clone(),
        };
        let fallbacks = match ctx.args.get("fallbackLocales") {
            Some(list) => list.list()?.iter().map(|value| site_locale(app, &value)).collect::<Result<Vec<_>, _>>()?,
            None => inherited.fallbacks.clone(),
        };
        Ok(LocaleScope { locale, fallbacks })
    }

    /// The root scope: the environment's main locale, no fallbacks.
    pub(super) fn main(app: &App) -> LocaleScope {
        LocaleScope { locale: app.config.main_locale().clone(), fallbacks: Vec::new() }
    }

    /// The locales to read, in order.
    pub(super) fn in_order(&self) -> impl Iterator<Item = &Locale> {
        std::iter::once(&self.locale).chain(self.fallbacks.iter())
    }
}

/// A `SiteLocale` value (`pt_BR`) as the environment's locale (`pt-BR`).
fn site_locale(app: &App, value: &ValueAccessor<'_>) -> async_graphql::Result<Locale> {
    let name = value.enum_name()?;
    app.config
        .locales
        .iter()
        .find(|locale| super::sdl::site_locale(locale) == name)
        .cloned()
        .ok_or_else(|| async_graphql::Error::new(format!("{name} is not a locale of this environment")))
}

/// What one query may list, all its root fields together: [`QueryBudget::MAX_FILES`] files in at
/// most [`QueryBudget::MAX_LISTINGS`] listings (aliases cannot multiply a query's cost).
#[derive(Debug, Default)]
pub(super) struct QueryBudget {
    listings: std::sync::atomic::AtomicI64,
    files: std::sync::atomic::AtomicI64,
}

impl QueryBudget {
    pub(super) const MAX_LISTINGS: i64 = 10;
    pub(super) const MAX_FILES: i64 = 1_000;

    /// Takes one listing of at most `files` files from the budget.
    pub(super) fn take(&self, files: i64) -> async_graphql::Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        let listings = self.listings.fetch_add(1, Relaxed) + 1;
        let total = self.files.fetch_add(files, Relaxed) + files;
        if listings > Self::MAX_LISTINGS {
            return Err(async_graphql::Error::new(format!(
                "a query may list uploads at most {} times",
                Self::MAX_LISTINGS
            )));
        }
        if total > Self::MAX_FILES {
            return Err(async_graphql::Error::new(format!(
                "a query may list at most {} uploads in all its fields",
                Self::MAX_FILES
            )));
        }
        Ok(())
    }
}

/// A failure that is not the client's: logged, answered as a plain internal error.
pub(super) fn internal(error: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(%error, "a GraphQL field failed");
    async_graphql::Error::new("internal error")
}
