// Verb commands shared by several command modules (`get pools`, later `get runners`): each
// module finds or creates the verb, then adds its resource as a subcommand.

import type { Command } from 'commander';

export function verbCommand(program: Command, name: string, description: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  if (existing) return existing;
  return program.command(name).description(description);
}
