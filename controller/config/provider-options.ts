// The GitHub provider's settings as a controller config gives them. Shared by the composition
// roots that talk to GitHub for real (the controller and `runnerctl drift --config`), so both
// read the App, installation, endpoint and pacing the same way.

import type { OctokitGitHubProviderOptions } from '../github/octokit-provider.ts';
import type { ControllerConfig } from './types.ts';

export function githubProviderOptions(
  config: ControllerConfig,
  secrets: { privateKey: string; enterpriseToken?: string | undefined },
): Pick<
  OctokitGitHubProviderOptions,
  'appId' | 'privateKey' | 'installationId' | 'baseUrl' | 'enterpriseToken' | 'pacing'
> {
  const { github, pacing } = config;
  return {
    appId: github.appId,
    privateKey: secrets.privateKey,
    ...(github.installationId !== undefined ? { installationId: github.installationId } : {}),
    ...(github.apiUrl ? { baseUrl: github.apiUrl } : {}),
    ...(secrets.enterpriseToken ? { enterpriseToken: secrets.enterpriseToken } : {}),
    pacing: {
      jitPerMinute: pacing.jitPerMinute,
      ...(pacing.restPerHour ? { restPerHour: pacing.restPerHour } : {}),
    },
  };
}
