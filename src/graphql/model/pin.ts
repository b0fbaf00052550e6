// A request sees one version of each model: the first time a request resolves a model's default
// (promoted) version it is pinned for the rest of that request, so `segment`, `probability` and
// `explanation` of one response never straddle a promotion. An explicit version is taken as asked.
import type { LoadedModel } from '../../inference/registry.js';
import { UnknownModelError } from '../../inference/service.js';
import type { Context } from '../context.type.js';
import { badInput } from '../errors.js';

const pinned = new WeakMap<Context, Map<string, LoadedModel>>();

/** The model (default DEFAULT_MODEL) at `version`, else its promoted version as pinned for this request; BAD_USER_INPUT when unknown. */
export function modelFor(ctx: Context, name: string | null | undefined, version?: string | null, field = 'model'): LoadedModel {
  const key = name ?? ctx.scoring.defaultModel;
  try {
    if (version != null) return ctx.scoring.model(key, version);
    let byName = pinned.get(ctx);
    if (!byName) pinned.set(ctx, (byName = new Map()));
    let model = byName.get(key);
    if (!model) byName.set(key, (model = ctx.scoring.model(key)));
    return model;
  } catch (err) {
    if (err instanceof UnknownModelError) throw badInput(version != null && ctx.scoring.inference.registry.get(key) ? 'version' : field, err.message);
    throw err;
  }
}
