/* eval_job.c — `eval --job`: the search's own evaluator and fitness for one mask (eval_job.h). */
#include "eval_job.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cli.h"
#include "coordinator/job_fitness.h"
#include "evaluator.h"

static void job_report(const sp_job *job, const sp_model *model, const sp_mask *m, int32_t bos,
                       const double *met, double fit, int json)
{
    char buf[1024];
    sp_mask_format(m, buf, sizeof buf);
    const char *goal = job->objective.kind == SP_OBJ_NLL || job->objective.kind == SP_OBJ_KL
                           ? "fitness = the metric" : "fitness = -(score)";
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "job", job->file);
        cJSON_AddStringToObject(o, "model", job->model);
        cJSON_AddStringToObject(o, "task", sp_task_kind_name(job->task.kind));
        cJSON_AddStringToObject(o, "objective", sp_objective_kind_name(job->objective.kind));
        cJSON_AddStringToObject(o, "removed", buf);
        if (bos >= 0) cJSON_AddNumberToObject(o, "bos", bos);
        else cJSON_AddNullToObject(o, "bos");
        cJSON *mo = cJSON_AddObjectToObject(o, "metrics");
        for (int i = 0; i < SP_METRIC_COUNT; i++)
            if (!isnan(met[i])) cJSON_AddNumberToObject(mo, sp_metric_names[i], met[i]);
        cJSON_AddNumberToObject(o, "fitness", fit);
        cJSON_AddNumberToObject(o, "size_fraction_removed", sp_job_removed_fraction(model, m));
        char *s = cJSON_PrintUnformatted(o);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
        return;
    }
    printf("job:            %s (%s task, %s objective)\nmodel:          %s\n", job->file,
           sp_task_kind_name(job->task.kind), sp_objective_kind_name(job->objective.kind),
           job->model);
    printf("removed layers: [%s]\n", buf);
    if (bos >= 0) printf("bos:            %d\n", (int)bos);
    else printf("bos:            none\n");
    for (int i = 0; i < SP_METRIC_COUNT; i++)
        if (!isnan(met[i]) && i != SP_METRIC_SECONDS)
            printf("%-15s %.9g\n", sp_metric_names[i], met[i]);
    printf("fitness:        %.17g (%s, as the search stores it)\n", fit, goal);
}

int sp_eval_job(const char *job_path, const char *remove, int json, int threads,
                const char *backend)
{
    sp_error err = {{0}};
    sp_job job;
    sp_model model;
    sp_engine *engine = NULL;
    sp_evaluator *ev = NULL;
    if (sp_job_load(job_path, &job, &err)) return sp_cli_fail("eval", &err);
    if (sp_model_open(job.model, &model, &err)) {
        sp_job_free(&job);
        return sp_cli_fail("eval", &err);
    }
    int rc = SP_EXIT_FAILURE;
    sp_mask m;
    int32_t bos = -1;
    double met[SP_METRIC_COUNT], fit = NAN;
    if (sp_mask_parse(remove ? remove : "", (int)model.cfg.n_layers, "--remove", &m, &err)) {
        rc = sp_cli_usage_error("eval", "%s", err.msg);
        goto done;
    }
    sp_engine_options eo = {.backend = backend ? (!strcmp(backend, "cuda") ? SP_BACKEND_CUDA
                                                                           : SP_BACKEND_CPU)
                                               : (sp_backend)job.backend,
                            .threads = threads ? threads : job.threads};
    if (sp_engine_create(&model, &eo, &engine, &err) ||
        sp_evaluator_create(&job, &model, engine, &ev, &err) ||
        sp_job_bos(&job, &model, &bos, &err) ||
        sp_evaluator_run(ev, &m, job.n_fidelities - 1, met, &err) ||
        sp_job_fitness(&job, &model, &m, met, &fit, &err)) {
        rc = sp_cli_fail("eval", &err);
        goto done;
    }
    job_report(&job, &model, &m, bos, met, fit, json);
    rc = SP_EXIT_OK;
done:
    sp_evaluator_free(ev);
    sp_engine_free(engine);
    sp_model_close(&model);
    sp_job_free(&job);
    return rc;
}
