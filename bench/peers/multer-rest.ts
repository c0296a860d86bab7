/**
 * Peer: the hand-written REST proxy. Express 5 with `multer` (memory storage: the whole file in a Buffer before
 * the handler runs), then the file sent on with undici's `fetch` and `FormData`. It takes the same GraphQL
 * multipart request as the gateway and answers the same JSON, without a GraphQL engine: it reads `operations`
 * only for the mutation's name. Forked by run.ts with SINK_ORIGIN.
 */
import { createServer } from 'node:http';
import express from 'express';
import multer from 'multer';
import { fetch, FormData } from 'undici';
import { CRM_PATH } from '../bodies.ts';
import { listen, sinkOrigin } from './peer-server.ts';

const crm = `${sinkOrigin()}${CRM_PATH}`;
const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 10 * 1024 * 1024 + 1, files: 1, fieldSize: 100_000 } });

const app = express();
app.get('/health', (_req, res) => {
  res.json({ status: 'ok' });
});
app.post('/graphql', upload.single('0'), async (req, res, next) => {
  try {
    const file = req.file;
    const operations = JSON.parse(String(req.body?.operations ?? '{}')) as { query?: string };
    if (!file || !operations.query?.includes('uploadRecordPhoto')) {
      res.status(400).json({ errors: [{ message: 'expected the uploadRecordPhoto mutation with one file' }] });
      return;
    }
    const form = new FormData();
    form.set('file', new Blob([file.buffer as Uint8Array<ArrayBuffer>], { type: file.mimetype }), file.originalname);
    const answer = await fetch(crm, { method: 'POST', body: form, headers: { authorization: req.headers.authorization ?? '' } });
    const json = (await answer.json()) as { code?: string; message?: string };
    const result =
      json.code === 'SUCCESS'
        ? { __typename: 'UploadRecordPhotoSuccess', message: json.message ?? '', photo: { filename: file.originalname, byteSize: file.size } }
        : { __typename: 'CrmServiceError', code: json.code ?? 'UNEXPECTED_RESPONSE', message: json.message ?? '' };
    res.json({ data: { uploadRecordPhoto: result } });
  } catch (error) {
    next(error);
  }
});
listen(createServer(app));
