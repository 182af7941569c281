/* hezuo plan dashboard (ECharts, served by the app): district bars, the trend, and the districts' map. */
(function () {
  var el = document.getElementById('dashboard-data');
  if (!el || typeof echarts === 'undefined') { return; }
  var d = JSON.parse(el.textContent);
  var L = d.labels;
  function chart(node) { var c = echarts.init(node, null, {renderer: 'svg'}); if (navigator.webdriver || (window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches)) { c.setOption({animation: false}); } window.addEventListener('resize', function () { c.resize(); }); return c; }
  var node = document.getElementById('district-chart');
  if (node) {
    chart(node).setOption({
      grid: {left: 8, right: 8, top: 28, bottom: 8, containLabel: true},
      tooltip: {trigger: 'axis', axisPointer: {type: 'shadow'}},
      legend: {top: 0, data: [L.actual, L.target]},
      xAxis: {type: 'category', data: d.chart.districts, axisLabel: {interval: 0, rotate: d.chart.districts.length > 5 ? 40 : 0}},
      yAxis: {type: 'value', name: L.unit},
      series: [
        {name: L.actual, type: 'bar', data: d.chart.actuals, itemStyle: {color: '#1f6f43'}},
        {name: L.target, type: 'bar', data: d.chart.targets, itemStyle: {color: '#adb5bd'}}
      ]
    });
  }
  node = document.getElementById('trend-chart');
  if (node) {
    chart(node).setOption({
      grid: {left: 8, right: 8, top: 28, bottom: 8, containLabel: true},
      tooltip: {trigger: 'axis'},
      legend: {top: 0, data: [L.actual, L.target]},
      xAxis: {type: 'category', data: d.trend.years},
      yAxis: {type: 'value', name: L.unit},
      series: [
        {name: L.actual, type: 'line', data: d.trend.actuals, itemStyle: {color: '#1f6f43'}},
        {name: L.target, type: 'line', data: d.trend.targets, lineStyle: {type: 'dashed'}, itemStyle: {color: '#6c757d'}}
      ]
    });
  }
  node = document.getElementById('district-map');
  if (node) {
    fetch(node.getAttribute('data-geojson'), {credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(function (geo) {
      echarts.registerMap('hezuo-districts', geo);
      var byName = {};
      d.regions.forEach(function (r) { byName[r.name] = r; });
      var c = chart(node);
      c.setOption({
        tooltip: {trigger: 'item', formatter: function (p) {
          var r = byName[p.name];
          if (!r) { return p.name; }
          return p.name + '<br>' + L.actual + ': ' + r.actual + (r.target ? '<br>' + L.target + ': ' + r.target : '') +
            (r.value !== null ? '<br>' + L.attainment + ': ' + r.value + '%' : '');
        }},
        series: [{
          type: 'map', map: 'hezuo-districts', roam: false, selectedMode: false,
          label: {show: true, fontSize: 10}, labelLayout: {hideOverlap: true},
          itemStyle: {areaColor: '#f8f9fa', borderColor: '#6c757d'},
          emphasis: {label: {show: true}, itemStyle: {areaColor: '#ffe69c'}},
          data: d.regions.map(function (r) {
            var item = {name: r.name, value: r.value, itemStyle: {areaColor: r.color}};
            // a district's page: its own district stands out, the others stay blank (no numbers)
            if (d.highlight === r.name) { item.itemStyle.borderColor = '#1f6f43'; item.itemStyle.borderWidth = 3; }
            return item;
          })
        }]
      });
      var links = d.links || {};
      var open = function (name) {
        var r = byName[name];
        var url = (r && r.url) || links[name];
        if (url) { window.location.href = url; }
      };
      c.on('click', function (p) { open(p.name); });
      node.setAttribute('data-ready', '1');
      window.hezuoOpenDistrict = open;
    });
  }
})();
