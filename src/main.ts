import { ConfigError, loadConfig, type GatewayConfig } from './config.ts';
import { EMULATOR_TOKEN, startCrmEmulator, type CrmEmulator } from './emulator/server.ts';
import { startGateway } from './server.ts';

function curlExample(url: string, token: string): string {
  const query =
    'mutation ($file: Upload!) { uploadRecordPhoto(module: LEADS, recordId: \\"1000000000001\\", file: $file) ' +
    '{ __typename ... on UploadRecordPhotoSuccess { message photo { filename format width height byteSize } } ' +
    '... on CrmError { code message resolution } } }';
  return [
    `curl ${url} \\`,
    `  -H 'Authorization: Zoho-oauthtoken ${token}' \\`,
    `  -H 'apollo-require-preflight: true' \\`,
    `  -F operations='{"query":"${query}","variables":{"file":null}}' \\`,
    `  -F map='{"0":["variables.file"]}' \\`,
    `  -F 0=@path/to/photo.png`,
  ].join('\n');
}

async function main(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Configuration error: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }

  let emulator: CrmEmulator | undefined;
  if (config.crm.apiDomain === undefined) {
    emulator = await startCrmEmulator({ customModules: config.crm.modules.filter((m) => m.custom).map((m) => m.apiName) });
  }
  const crmOrigin = config.crm.apiDomain ?? emulator!.origin;
  const gateway = await startGateway(config, {
    crmOrigin,
    graphiqlHeaders: emulator ? { Authorization: `Zoho-oauthtoken ${EMULATOR_TOKEN}` } : {},
  });

  const lines = [`Record-photo gateway: GraphQL and GraphiQL at ${gateway.url}`];
  if (emulator) {
    lines.push(
      `CRM: the embedded emulator at ${emulator.origin} (set ZOHO_API_DOMAIN to use a real CRM)`,
      `Demo token: ${EMULATOR_TOKEN}  (records 1000000000001 to 1000000000010 in every module)`,
      '',
      'Upload a photo:',
      curlExample(gateway.url, EMULATOR_TOKEN),
    );
  } else {
    lines.push(`CRM: ${crmOrigin}/crm/${config.crm.apiVersion}`);
  }
  console.log(lines.join('\n'));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gateway.close();
    await emulator?.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

await main();
