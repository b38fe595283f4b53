// `runnerctl completion bash|zsh|fish`: a shell completion script for the commands, their
// subcommands and flags, built from the program itself (so new commands complete too).

import { Argument, type Command } from 'commander';
import type { CliContext } from '../context.ts';

function words(cmd: Command): string[] {
  return [
    ...cmd.commands.flatMap((c) => [c.name(), ...c.aliases()]),
    ...cmd.options.map((o) => o.long ?? o.short ?? '').filter(Boolean),
  ];
}

function bash(program: Command): string {
  const cases = program.commands
    .filter((c) => words(c).length > 0)
    .map((c) => `    ${c.name()}) opts="${words(c).join(' ')}" ;;`)
    .join('\n');
  return `# runnerctl bash completion: source <(runnerctl completion bash)
_runnerctl() {
  local cur=\${COMP_WORDS[COMP_CWORD]} opts
  if [ "$COMP_CWORD" -eq 1 ]; then
    opts="${words(program).join(' ')}"
  else
    case "\${COMP_WORDS[1]}" in
${cases}
    *) opts="" ;;
    esac
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _runnerctl runnerctl
`;
}

function zsh(program: Command): string {
  return `#compdef runnerctl
# runnerctl zsh completion: source <(runnerctl completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(program)}`;
}

function fish(program: Command): string {
  const top = program.commands
    .map(
      (c) =>
        `complete -c runnerctl -n __fish_use_subcommand -a ${c.name()} -d ${JSON.stringify(c.description())}`,
    )
    .join('\n');
  const subs = program.commands
    .flatMap((c) =>
      words(c).map((w) =>
        w.startsWith('--')
          ? `complete -c runnerctl -n "__fish_seen_subcommand_from ${c.name()}" -l ${w.slice(2)}`
          : `complete -c runnerctl -n "__fish_seen_subcommand_from ${c.name()}" -a ${w}`,
      ),
    )
    .join('\n');
  return `# runnerctl fish completion: runnerctl completion fish | source\ncomplete -c runnerctl -f\n${top}\n${subs}\n`;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'shell').choices(['bash', 'zsh', 'fish']))
    .action((shell: 'bash' | 'zsh' | 'fish') => {
      const script = { bash, zsh, fish }[shell](program);
      ctx.io.stdout.write(script);
    });
}
