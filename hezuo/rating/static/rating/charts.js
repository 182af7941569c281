/* hezuo rating charts (ECharts, served by the app). Each chart reads its data from a json_script element. */
(function () {
  function data(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; }
  function chart(el) { var c = echarts.init(el, null, {renderer: 'svg'}); if (navigator.webdriver || (window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches)) { c.setOption({animation: false}); } window.addEventListener('resize', function () { c.resize(); }); return c; }
  var el = document.getElementById('breakdown-chart');
  var d = data('breakdown-data');
  if (el && d) {
    var breakdown = d;  // the label formatter runs at every redraw: it keeps its own data (d is reused below)
    chart(el).setOption({
      grid: {left: 8, right: 16, top: 24, bottom: 8, containLabel: true},
      tooltip: {trigger: 'axis', axisPointer: {type: 'shadow'}},
      legend: {top: 0, data: [d.pointsLabel, d.maxLabel]},
      xAxis: {type: 'value'},
      yAxis: {type: 'category', data: d.labels, inverse: true, axisLabel: {width: 110, overflow: 'truncate'}},
      series: [
        {name: d.maxLabel, type: 'bar', data: d.max, barGap: '-100%', itemStyle: {color: '#e9ecef'}, z: 1},
        {name: d.pointsLabel, type: 'bar', data: d.points, itemStyle: {color: '#1f6f43'}, z: 2,
         label: {show: true, position: 'right', formatter: function (p) { return p.value + ' / ' + breakdown.max[p.dataIndex]; }}}
      ]
    });
  }
  el = document.getElementById('years-chart');
  d = data('years-data');
  if (el && d && d.years.length) {
    chart(el).setOption({
      grid: {left: 8, right: 8, top: 28, bottom: 8, containLabel: true},
      tooltip: {trigger: 'axis'},
      legend: {top: 0, data: [d.starsLabel, d.scoreLabel]},
      xAxis: {type: 'category', data: d.years},
      yAxis: [{type: 'value', min: 0, max: 5, interval: 1, name: '★'}, {type: 'value', min: 0, max: 100}],
      series: [
        {name: d.starsLabel, type: 'bar', data: d.stars, itemStyle: {color: '#f0ad4e'}},
        {name: d.scoreLabel, type: 'line', yAxisIndex: 1, data: d.scores, itemStyle: {color: '#1f6f43'}}
      ]
    });
  }
  el = document.getElementById('distribution-chart');
  d = data('distribution-data');
  if (el && d && d.districts.length) {
    var colours = ['#cfe2d6', '#9fc5ad', '#6fa885', '#3f8b5c', '#1f6f43', '#adb5bd', '#ffc107'];
    chart(el).setOption({
      grid: {left: 8, right: 8, top: 48, bottom: 8, containLabel: true},
      tooltip: {trigger: 'axis', axisPointer: {type: 'shadow'}},
      legend: {top: 0},
      xAxis: {type: 'category', data: d.districts, axisLabel: {interval: 0, rotate: d.districts.length > 5 ? 40 : 0}},
      yAxis: {type: 'value', minInterval: 1},  // counts of cooperatives: whole numbers
      series: d.series.map(function (s, i) { return {name: s.name, type: 'bar', stack: 'stars', data: s.data, itemStyle: {color: colours[i]}}; })
    });
  }
  var bar = document.getElementById('run-progress');
  if (bar) {
    var url = bar.getAttribute('data-url');
    var tick = function () {
      fetch(url, {credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(function (p) {
        var inner = bar.querySelector('.progress-bar');
        inner.style.width = p.percent + '%';
        inner.textContent = p.percent + '%';
        bar.setAttribute('aria-valuenow', p.percent);
        document.getElementById('run-done').textContent = p.done;
        document.getElementById('run-total').textContent = p.total;
        document.getElementById('run-status').textContent = p.status_label;
        if (p.finished) { if (p.status === 'done') { inner.classList.remove('progress-bar-animated'); } window.setTimeout(function () { window.location.reload(); }, 800); }
        else { window.setTimeout(tick, 1000); }
      }).catch(function () { window.setTimeout(tick, 3000); });
    };
    if (bar.getAttribute('data-finished') !== '1') { tick(); }
  }
})();
