import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { convertCommand, convertOptions } from './convert-command.js';
import { synthCommand, synthOptions } from './synth.js';
import { EXIT } from '../pipeline/run.js';

/** `desi-qad <command>`: parses the command line and sets the process exit status from the command's result. */
export async function main(argv: string[]): Promise<void> {
  let code: number = EXIT.ok;
  await yargs(hideBin(argv))
    .scriptName('desi-qad')
    .usage('$0 <command> [options]')
    .command('convert', 'convert DESI healpix tiles (coadd + redrock FITS) into a Parquet dataset, resumably', convertOptions, async (a) => {
      code = await convertCommand(a);
    })
    .command('synth', 'write DESI-format tiles (for tests, the demo and the bench)', synthOptions, async (a) => {
      code = await synthCommand(a);
    })
    .demandCommand(1, 'name a command: convert or synth')
    .strict()
    .fail((msg, err) => {
      if (err && !msg) throw err;
      process.stderr.write(`desi-qad: ${msg ?? err?.message}\nRun "desi-qad --help" or "desi-qad <command> --help".\n`);
      process.exit(EXIT.usage);
    })
    .help()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .parseAsync();
  process.exitCode = code;
}
