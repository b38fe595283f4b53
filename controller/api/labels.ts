// Runner labels: compared case-insensitively; `self-hosted` is always part of a runner's labels.

export const SELF_HOSTED_LABEL = 'self-hosted';

export function normalizeLabel(label: string): string {
  return label.toLowerCase();
}

/** The labels as written, with `self-hosted` first when it is not already there. */
export function withSelfHosted(labels: readonly string[]): string[] {
  return labels.some((l) => normalizeLabel(l) === SELF_HOSTED_LABEL)
    ? [...labels]
    : [SELF_HOSTED_LABEL, ...labels];
}

/** Index of the first label equal (ignoring case) to an earlier one, per duplicate. */
export function duplicateLabels(
  labels: readonly string[],
): { index: number; firstIndex: number }[] {
  const seen = new Map<string, number>();
  const out: { index: number; firstIndex: number }[] = [];
  labels.forEach((label, index) => {
    const key = normalizeLabel(label);
    const firstIndex = seen.get(key);
    if (firstIndex === undefined) seen.set(key, index);
    else out.push({ index, firstIndex });
  });
  return out;
}
