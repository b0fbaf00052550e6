// Execution-provider choice. ORT_EXECUTION_PROVIDERS lists the providers allowed, in order of
// preference. Creating a session with ['cuda', 'cpu'] does not fall back by itself (it throws when
// the CUDA provider library is missing), so each provider is tried on its own. A list without
// `cpu` is strict: when CUDA cannot be used, start-up fails.
import * as ort from 'onnxruntime-node';

export type ProviderName = 'cuda' | 'cpu';
export const knownProviders: readonly ProviderName[] = ['cuda', 'cpu'];

export function parseProviders(value: string): ProviderName[] {
  const list = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (list.length === 0) throw new Error('ORT_EXECUTION_PROVIDERS: list at least one of cuda, cpu');
  for (const p of list) {
    if (!knownProviders.includes(p as ProviderName)) throw new Error(`ORT_EXECUTION_PROVIDERS: unknown provider "${p}" (known: cuda, cpu)`);
  }
  return [...new Set(list)] as ProviderName[];
}

export class ProviderUnavailableError extends Error {
  override name = 'ProviderUnavailableError';
}

/** Remembers providers that failed once, so the fallback is tried (and logged) only once per process. */
export class ProviderSelector {
  private readonly unavailable = new Map<ProviderName, string>();

  constructor(
    readonly preference: ProviderName[],
    private readonly onFallback: (from: ProviderName, to: ProviderName, reason: string) => void,
    /** Options every session gets (e.g. intraOpNumThreads); a call's own options win. */
    private readonly defaults: ort.InferenceSession.SessionOptions = {},
  ) {}

  /**
   * Creates a session on the first provider that works; returns it with the provider used and the
   * options it was created with (the inference thread creates its own session of the model with them).
   */
  async createSession(
    model: Uint8Array,
    options: ort.InferenceSession.SessionOptions = {},
  ): Promise<{ session: ort.InferenceSession; provider: ProviderName; options: ort.InferenceSession.SessionOptions }> {
    const failures: string[] = [];
    for (const [i, provider] of this.preference.entries()) {
      const known = this.unavailable.get(provider);
      if (known) {
        failures.push(`${provider}: ${known}`);
        continue;
      }
      try {
        const used = { ...this.defaults, ...options, executionProviders: [provider] };
        const session = await ort.InferenceSession.create(model, used);
        return { session, provider, options: used };
      } catch (err) {
        const reason = firstLine(err);
        // A model that cannot be parsed fails on every provider: that is the model's problem.
        if (/protobuf|Load model|model.*failed|Invalid|graph/i.test(reason) && !/shared library|provider/i.test(reason)) throw err;
        this.unavailable.set(provider, reason);
        failures.push(`${provider}: ${reason}`);
        const next = this.preference[i + 1];
        if (next) this.onFallback(provider, next, reason);
      }
    }
    throw new ProviderUnavailableError(
      `No execution provider of ORT_EXECUTION_PROVIDERS=${this.preference.join(',')} could be used (${failures.join('; ')})`,
    );
  }
}

export function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0].trim();
}
