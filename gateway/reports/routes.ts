/**
 * Sellers' daily reports: `GET /seller/reports/{date}.csv` streams the caller's own per-seller CSV
 * (reports/<date>/sellers/<sellerId>.csv, written by the reports processor) from report storage.
 * The key is built from the token's user id, never from the request, so a seller can only ever
 * read their own file; buyers are refused by the route's role.
 */
import { z } from 'zod';
import { reportKeys, type ReportStorage } from '../../processors/reports/index.ts';
import { notFound } from '../errors.ts';
import { route, type RouteSpec } from '../routing.ts';

const ReportParams = z.object({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date YYYY-MM-DD' }).refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), { error: 'must be a real date' }),
});

export function reportRoutes(storage: ReportStorage): RouteSpec[] {
  return [
    route({
      method: 'get', path: '/seller/reports/{date}.csv', summary: 'Download the caller\'s own daily order report (CSV)', tag: 'reports', access: 'SELLER',
      params: ReportParams,
      responses: { 200: { description: 'The seller\'s orders of that day, text/csv', headers: ['Content-Disposition'] } },
      handler: async ({ params, principal }) => {
        const object = await storage.get(reportKeys(params.date).seller(principal!.userId));
        if (!object) throw notFound(`a report for ${params.date} (none is written until the day's window closes, or you had no orders that day)`);
        return {
          status: 200,
          body: object.body,
          headers: {
            'Content-Type': 'text/csv; charset=utf-8',
            'Content-Length': String(object.size),
            'Content-Disposition': `attachment; filename="orders-${params.date}.csv"`,
          },
        };
      },
    }),
  ];
}
